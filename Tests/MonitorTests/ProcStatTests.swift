import Monitor
import Testing

@Suite("ProcStat")
struct ProcStatTests {
    static let earlier = """
        cpu  100 0 100 800 0 0 0 0 0 0
        cpu0 50 0 50 400 0 0 0 0 0 0
        cpu1 50 0 50 400 0 0 0 0 0 0
        intr 12345
        """
    static let later = """
        cpu  250 10 140 900 20 0 0 0 0 0
        cpu0 140 10 50 400 0 0 0 0 0 0
        cpu1 110 0 90 500 20 0 0 0 0 0
        intr 12399
        """

    @Test("parses the total and every core")
    func parses() throws {
        let stat = try #require(ProcStat(parsing: Self.earlier))
        #expect(stat.cores.count == 2)
        #expect(stat.all == .init(busy: 200, total: 1000))
        #expect(ProcStat(parsing: "intr 1\nctxt 2") == nil)
    }

    @Test("busy per cent between two readings; iowait counts as idle")
    func busyPercent() throws {
        let busy = try #require(ProcStat(parsing: Self.later)).busyPercent(
            since: try #require(ProcStat(parsing: Self.earlier)))
        // All: busy 200 → 400 of total 1000 → 1320: 200 / 320.
        #expect(abs(busy.all - 62.5) < 1e-9)
        // cpu0: busy +100 of +100: 100 %; cpu1: busy +100 of +220 (120 idle + iowait): 45.45 %.
        #expect(
            busy.cores.count == 2 && abs(busy.cores[0] - 100) < 1e-9 && abs(busy.cores[1] - 100.0 / 220 * 100) < 1e-9)
    }

    @Test("the live /proc/stat has one entry per core")
    func live() throws {
        let stat = try #require(ProcStat.read())
        #expect(stat.cores.count == ProcessInfoCores.count)
    }
}

enum ProcessInfoCores {
    static var count: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}

#if canImport(Glibc)
    import Glibc
#endif
