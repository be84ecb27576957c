import Foundation
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The Debian package on a booted Debian 12 (systemd-nspawn), as `Deploy/system-test.sh` checks it.
@Suite("the package on a booted systemd", .serialized)
struct SystemTests {
    @Test(
        "installs without Swift, serves HTTPS/HTTP2, socket-activates, restarts a killed worker, upgrades under load keeping the operator's files, reboots, purges clean",
        .enabled(if: geteuid() == 0, "boots a container: root only"))
    func packageOnBootedSystemd() throws {
        let run = try Command.run("/bin/bash", [TestFiles.checkout + "/Deploy/system-test.sh"])
        #expect(run.status == 0, "\(run.output)")
        let steps = run.output.split(separator: "\n").filter { $0.hasPrefix("[") && $0.contains("s] ") }
        #expect(steps.last?.contains("PASS") == true, "\(run.output)")
        #expect(steps.count >= 10, "\(steps.joined(separator: "\n"))")
    }
}
