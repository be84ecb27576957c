/// What `ab` printed, as numbers: the one reading of its report the tests share (the benchmark
/// scripts' is `ab_field` in `Deploy/bench/lib.sh`).
public struct ApacheBenchReport: Sendable, Equatable {
    /// `Complete requests`.
    public var complete: Int
    /// `Failed requests`: connections that broke, lengths that differed, exceptions.
    public var failed: Int
    /// `Non-2xx responses` (0 when ab printed no such line, as it does when there were none).
    public var non2xx: Int
    /// `Requests per second`.
    public var requestsPerSecond: Double

    /// Reads `ab`'s report; `nil` when the fields every report has are missing (ab did not finish).
    public init?(parsing text: String) {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].split(separator: " ").first.map(String.init) ?? ""
            fields[String(line[..<colon])] = value
        }
        guard let complete = fields["Complete requests"].flatMap({ Int($0) }),
            let failed = fields["Failed requests"].flatMap({ Int($0) }),
            let rate = fields["Requests per second"].flatMap({ Double($0) })
        else { return nil }
        self.complete = complete
        self.failed = failed
        self.non2xx = fields["Non-2xx responses"].flatMap { Int($0) } ?? 0
        self.requestsPerSecond = rate
    }
}
