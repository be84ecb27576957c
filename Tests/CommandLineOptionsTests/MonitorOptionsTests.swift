import CommandLineOptions
import Testing

@Suite("MonitorOptions: the monitor's command line as a value")
struct MonitorOptionsTests {
    static var everyOptionChanged: MonitorOptions {
        var options = MonitorOptions.defaults
        options.segment = "/run/elsewhere/segment"
        options.pingPort = 18_080
        options.cost = 5
        options.interval = 0.5
        options.architecture = "coarse"
        options.hostName = "host 1"
        // A peer's name may hold spaces and its endpoint an equals sign's neighbour.
        options.peer = ["host 1=unix:/run/a/monitor-1.sock", "host 2=127.0.0.1:9000"]
        options.socketMode = "660"
        options.socketGroup = "www-data"
        options.wsIdleSeconds = 60
        options.exitWithParent = true
        return options
    }

    @Test("every option survives rendering and parsing back")
    func roundTrip() throws {
        let options = Self.everyOptionChanged
        #expect(OptionValues.of(try MonitorOptions.parse(options.arguments)) == OptionValues.of(options))
        let defaults = MonitorOptions.defaults
        #expect(OptionValues.of(try MonitorOptions.parse(defaults.arguments)) == OptionValues.of(defaults))
    }

    @Test("the round trip's fixture changes every option")
    func fixtureCoversEveryOption() {
        let defaults = OptionValues.of(MonitorOptions.defaults)
        let changed = OptionValues.of(Self.everyOptionChanged)
        #expect(defaults.keys.sorted() == changed.keys.sorted())
        #expect(defaults.count >= 11, "only \(defaults.keys.sorted())")
        let unchanged = defaults.keys.filter { defaults[$0] == changed[$0] }
        #expect(unchanged.isEmpty, "not changed by the fixture: \(unchanged.sorted())")
    }

    @Test("the monitor unit's ExecStart parses with these options")
    func systemdUnit() throws {
        let words = try ExecStartLine.words(
            unit: "Deploy/systemd/fullyloaded-monitor.service", command: "monitor",
            optionsVariable: "FULLYLOADED_MONITOR_OPTIONS")
        #expect(words.listen.hasPrefix("unix:/run/fullyloaded-monitor/"))
        let parsed = try MonitorOptions.parse(words.rest)
        #expect(parsed.socketMode == "666")
    }
}
