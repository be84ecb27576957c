import Foundation
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The Debian package on a booted Debian 12 (systemd-nspawn), as `Deploy/system-test.sh` checks it:
/// the script runs once, its checks in order (each needs the one before), and each check it
/// reports is an expectation of its own here, so that a failure names the check.
@Suite("the package on a booted systemd", .serialized, .enabled(if: geteuid() == 0, "boots a container: root only"))
struct SystemTests {
    /// The script's run, made once for every check below.
    static let run: Result<Command.Outcome, any Error> = Result {
        try Command.run("/bin/bash", [TestFiles.checkout + "/Deploy/system-test.sh"])
    }

    /// What each check reports when it passed: the start of its line.
    static let checks = [
        "packages:",
        "booted: systemd",
        "installed fullyloaded",
        "the package brought its Depends and nothing of the tests', benchmarks' or build's packages",
        "HTTPS with HTTP/2 answers ping and hash, with HSTS; port 80 answers 301 to HTTPS",
        "the public server has no /api/load (404); one address holds 100 requests in progress, the 101st gets 429",
        "active:",
        "the monitor answers through nginx (/metrics), in a group of its own",
        "socket activation: worker 0 stopped, started again by requests to its socket",
        "kill -9 of worker 0",
        "connection ceiling: one address held",
        "upgrade fullyloaded",
        "systemctl reboot: booted again and serving HTTPS, the monitor too",
        "/dev/shm/fullyloaded taken by nobody first: the service serves from /run/fullyloaded/segment",
        "apt purge: no file, unit link, user or segment left; nginx -t passes",
        "PASS: the system test took",
    ]

    @Test(
        "the script passes: installs without Swift, serves, socket-activates, restarts, upgrades under load, reboots, purges clean"
    )
    func passes() throws {
        let outcome = try Self.run.get()
        #expect(outcome.status == 0, "\(outcome.output)")
    }

    @Test("each check is reported as passed", arguments: checks)
    func check(_ check: String) throws {
        let outcome = try Self.run.get()
        let steps = outcome.output.split(separator: "\n").filter { $0.hasPrefix("[") && $0.contains("s] ") }
        let reported = steps.contains { $0.split(separator: "] ", maxSplits: 1).last?.hasPrefix(check) == true }
        let failure = steps.first { $0.contains("] FAIL: ") }.map(String.init) ?? "no FAIL line"
        #expect(reported, "not reported: \(check); the script stopped at: \(failure)")
    }
}
