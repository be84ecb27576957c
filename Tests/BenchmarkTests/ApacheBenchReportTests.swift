import StackTestSupport
import Testing

@Suite("ApacheBenchReport")
struct ApacheBenchReportTests {
    static let report = """
        Server Software:        nginx
        Document Path:          /api/load
        Concurrency Level:      16
        Time taken for tests:   20.003 seconds
        Complete requests:      434
        Failed requests:        3
           (Connect: 0, Receive: 0, Length: 3, Exceptions: 0)
        Non-2xx responses:      12
        Requests per second:    21.70 [#/sec] (mean)
        Time per request:       737.437 [ms] (mean)
        """

    @Test("the counts and the rate; Non-2xx is 0 when ab prints no such line; a report cut short is nil")
    func parsing() throws {
        let report = try #require(ApacheBenchReport(parsing: Self.report))
        #expect(report == ApacheBenchReport(parsing: Self.report))
        #expect(
            report.complete == 434 && report.failed == 3 && report.non2xx == 12 && report.requestsPerSecond == 21.70)
        let clean = Self.report.replacingOccurrences(of: "Non-2xx responses:      12\n", with: "")
        #expect(ApacheBenchReport(parsing: clean)?.non2xx == 0)
        #expect(
            ApacheBenchReport(parsing: "Benchmarking 127.0.0.1 (be patient)\napr_socket_recv: Connection reset") == nil)
    }
}
