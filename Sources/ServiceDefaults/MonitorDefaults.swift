/// The monitor's defaults.
public enum MonitorDefaults {
    /// Seconds between samples.
    public static let sampleInterval = 0.25

    /// A `/ws` connection that sent nothing for this long is closed: a minute of a hidden tab's
    /// timer throttling (the page says it is there every 30 s) and two heartbeats to spare.
    public static let webSocketIdleSeconds = 150.0
}
