import Foundation
import StackTestSupport
import Testing

/// `Deploy/dev.sh deps`: each command installs the Debian packages it needs and no more; the
/// package needs none of them.
@Suite("dependency groups")
struct DependencyGroupTests {
    /// The packages `dev.sh deps --list GROUP…` names.
    func packages(_ groups: [String]) throws -> Set<String> {
        let run = try Command.run("/bin/bash", [TestFiles.checkout + "/Deploy/dev.sh", "deps", "--list"] + groups)
        #expect(run.status == 0, "\(run.output)")
        return Set(run.output.split(separator: "\n").map(String.init))
    }

    /// What only the tests, the benchmarks or the package's checks use.
    static let notForRunning: Set<String> = [
        "php-fpm", "php-cli", "chromium", "chromium-driver", "debootstrap", "systemd-container", "lintian",
        "gnuplot-nox", "apache2-utils",
    ]

    @Test("up's groups (run, build) bring nginx and the C libraries, and nothing of the tests or benchmarks")
    func upBringsWhatItRuns() throws {
        let up = try packages(["run", "build"])
        #expect(
            up.isSuperset(of: [
                "nginx", "openssl", "libjs-chart.js", "libfcgi-dev", "libssl-dev", "libcrypt-dev", "libargon2-dev",
            ]))
        #expect(up.isDisjoint(with: Self.notForRunning), "\(up.intersection(Self.notForRunning))")
    }

    @Test("the benchmarks' group brings PHP-FPM and ab beside what they start; the tests' group brings everything")
    func benchAndTest() throws {
        let bench = try packages(["bench"])
        #expect(bench.isSuperset(of: ["php-fpm", "apache2-utils", "gnuplot-nox", "nginx", "libfcgi-dev"]), "\(bench)")
        #expect(!bench.contains("chromium") && !bench.contains("debootstrap"), "\(bench)")
        let test = try packages(["test"])
        let all = try packages([])
        #expect(test == all && all.isSuperset(of: Self.notForRunning.union(bench)), "\(all.subtracting(test))")
    }

    @Test("an unknown group is refused, naming the groups")
    func unknownGroup() throws {
        let run = try Command.run("/bin/bash", [TestFiles.checkout + "/Deploy/dev.sh", "deps", "--list", "everything"])
        #expect(run.status == 2 && run.output.contains("run build package bench test"), "\(run.output)")
    }

    @Test("the package depends on none of the tests', benchmarks' or build's packages")
    func packageDepends() throws {
        let control = try String(contentsOfFile: TestFiles.checkout + "/Deploy/debian/control.in", encoding: .utf8)
        let line = try #require(control.split(separator: "\n").first { $0.hasPrefix("Depends:") })
        let depends = Set(
            line.dropFirst("Depends:".count).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let forDevelopment = try packages([]).subtracting(try packages(["run"]))
        #expect(depends.isDisjoint(with: forDevelopment), "\(depends.intersection(forDevelopment))")
        #expect(depends.contains("nginx"))
    }
}
