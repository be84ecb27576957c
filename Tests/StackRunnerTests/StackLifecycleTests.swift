// Longer than most files: one suite over up's lifecycle (start, stop, restart, replace, sessions); each test starts its own stack.
import Foundation
import LoopbackHTTP
import POSIXSupport
import StackRunner
import StackTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("fullyloaded up: start, stop, supervise", .serialized)
struct StackLifecycleTests {
    @Test("SIGTERM stops nginx and every worker and removes the runtime files")
    func cleanStop() throws {
        let stack = try TestStack(workers: 2)
        let children = stack.childProcesses
        #expect(children.filter { $0.command.contains(" worker ") }.count == 2)
        #expect(children.contains { $0.command.contains(" monitor ") })
        #expect(children.contains { $0.command.contains("nginx") })
        // nginx's own worker processes are the master's children.
        let nginxMaster = try #require(children.first { $0.command.contains("nginx") })
        let nginxWorkers = ProcessTable.children(of: nginxMaster.pid).map(\.pid)
        #expect(!nginxWorkers.isEmpty)
        let sockets = try FileManager.default.contentsOfDirectory(atPath: stack.runtimeDirectory).filter {
            $0.hasSuffix(".sock")
        }
        #expect(Set(sockets) == ["worker-0.sock", "worker-1.sock", "monitor.sock"])

        let status = try stack.stop()
        #expect(status == .exited(0), "\(status): \(stack.log)")
        for pid in children.map(\.pid) + nginxWorkers {
            #expect(!ProcessTable.isAlive(pid), "process \(pid) outlived up")
        }
        let left = (try? FileManager.default.contentsOfDirectory(atPath: stack.runtimeDirectory)) ?? []
        #expect(left.filter { $0.hasSuffix(".sock") || $0.hasSuffix(".pid") }.isEmpty, "left behind: \(left)")
        #expect(!LoopbackPort.isFree(stack.port) == false, "nginx still holds the port")
    }

    /// Session, controlling terminal (tty_nr) and stdin of a process, from /proc.
    static func terminal(of pid: Int32) -> (session: Int32, tty: Int, stdin: String)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 4, let session = Int32(fields[3]), let tty = Int(fields[4]) else { return nil }
        let stdin = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/0")) ?? "?"
        return (session, tty, stdin)
    }

    @Test(
        "run on a terminal, up gives it up before starting children: none has a controlling terminal (no TIOCSTI into it) or reads from it, and all stay in up's session (one CPU scheduling group)"
    )
    func childrenHaveNoTerminal() throws {
        // `script` runs a shell on a pseudo-terminal of its own, which starts up, as an
        // operator's root shell would (the trailing `true` keeps the shell from exec'ing up).
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-tty")
        // A runtime directory up makes itself, as the user it runs as.
        let runtime = directory + "-run"
        let port = try LoopbackPort.ephemeral()
        let command = [
            try TestBinary.path, "up", "--http-port", "\(port)", "--https-port", "0", "--workers", "1", "--cost", "4",
            "--runtime-dir", runtime, "--share-dir", TestFiles.checkout,
        ].joined(separator: " ")
        let terminal = try ChildProcess.spawn(
            executable: "/usr/bin/script", arguments: ["-qefc", command + "; true", "/dev/null"],
            standardOutput: directory + "/out")
        defer {
            for pid in ProcessTable.processes(commandContaining: runtime) { kill(pid, SIGTERM) }
            _ = try? terminal.wait(timeout: 10)
        }
        let client = LoopbackHTTPClient(port: port, timeout: 2)
        let started = MonotonicClock.now
        while (try? client.request("GET", "/api/ping").status) != 200, MonotonicClock.now - started < 30 {
            usleep(100_000)
        }
        let shell = try #require(ProcessTable.children(of: terminal.pid).first?.pid)
        #expect(try #require(Self.terminal(of: shell)).tty != 0, "the shell runs on the pseudo-terminal")
        let up = try #require(ProcessTable.children(of: shell).first?.pid)
        let upTerminal = try #require(Self.terminal(of: up))
        #expect(upTerminal.tty == 0, "up gave the terminal up")
        let children = ProcessTable.children(of: up)
        #expect(children.count >= 3, "nginx, a worker and the monitor")
        for child in children {
            let seen = try #require(Self.terminal(of: child.pid))
            #expect(seen.tty == 0, "\(child.command): a controlling terminal")
            #expect(seen.session == upTerminal.session, "\(child.command): another session")
            #expect(seen.stdin == "/dev/null", "\(child.command): stdin \(seen.stdin)")
        }
    }

    @Test(
        "started as root, up drops to a system account of its own before starting nginx, workers and monitor",
        .enabled(if: geteuid() == 0))
    func dropsRoot() throws {
        let stack = try TestStack(workers: 2)
        defer { _ = try? stack.stop() }
        // Made on first run: a system account, no login shell, not nobody's uid.
        let entry = try #require(getpwnam("fullyloaded-up"), "no fullyloaded-up account")
        let uid = entry.pointee.pw_uid
        #expect(uid != 0 && uid < 1000 && uid != 65534, "uid \(uid)")
        #expect(String(cString: entry.pointee.pw_shell).hasSuffix("nologin"))
        func userID(_ pid: Int32) -> String? {
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            return status?.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init)
        }
        let processes = [stack.process.pid] + stack.childProcesses.map(\.pid)
        #expect(processes.count >= 5)
        for pid in processes {
            let uid = try #require(userID(pid))
            // Real, effective, saved and filesystem ids all its own: no way back to root.
            #expect(
                uid.split(whereSeparator: \.isWhitespace).dropFirst().allSatisfy { $0 == "\(entry.pointee.pw_uid)" },
                "\(pid): \(uid)")
        }
        #expect(stack.log.contains(#""event":"dropped root""#))
        #expect(try stack.client().request("GET", "/api/ping").status == 200)
    }

    @Test(
        "as root, --user nobody (shared with other daemons) is refused unless --shared-user, and root itself always",
        .enabled(if: geteuid() == 0))
    func sharedUserRefused() throws {
        for (arguments, message) in [
            (["--user", "nobody"], "is shared with other daemons"), (["--user", "root"], "is root"),
        ] {
            let log = try TestFiles.makeTemporaryDirectory(prefix: "fl-user") + "/up.log"
            let up = try ChildProcess.spawn(
                executable: try TestBinary.path,
                arguments: ["up", "--http-port", "\(try LoopbackPort.ephemeral())", "--https-port", "0"] + arguments,
                standardOutput: log)
            let status = try up.wait(timeout: 20)
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            #expect(status != nil && status != .exited(0), "\(arguments): \(output)")
            #expect(output.contains(message), "\(arguments): \(output)")
            #expect(!output.contains(#""event":"ready""#), "\(arguments): \(output)")
        }
        let stack = try TestStack(workers: 1, arguments: ["--user", "nobody", "--shared-user"])
        defer { _ = try? stack.stop() }
        let pid = try #require(stack.workerProcessIDs.first)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(status.contains("Uid:\t65534\t65534\t65534\t65534"), "\(status)")
    }

    @Test(
        "bad up options are a clear error and start nothing",
        arguments: [
            (["--hosts", "0"], "--hosts must be 1...16"),
            (["--upstream", "unix:/tmp/x.sock"], "--upstream unix:/tmp/x.sock is not HOST:PORT"),
            (["--rate-limit=-1"], "--rate-limit must be 0 or more"),
            (["--workers", "0"], "--workers must be at least 1"),
            (["--architecture", "quantum"], "quantum"),
        ])
    func badOptions(arguments: [String], message: String) throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-bad")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let up = try ChildProcess.spawn(
            executable: TestBinary.path,
            arguments: [
                "up", "--http-port", "\(try LoopbackPort.ephemeral())", "--https-port", "0", "--runtime-dir",
                directory + "/run",
            ] + arguments,
            standardOutput: directory + "/up.log")
        let status = try up.wait(timeout: 30)
        #expect(status != nil && status != .exited(0))
        let output = try String(contentsOfFile: directory + "/up.log", encoding: .utf8)
        #expect(output.contains(message), "\(output)")
        #expect(ProcessTable.children(of: up.pid).isEmpty)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/run")) ?? []
        #expect(left.filter { $0.hasSuffix(".sock") }.isEmpty, "left behind: \(left)")
    }

    @Test("a port that is taken is a clear error, not a hang")
    func portInUse() throws {
        let taken = try SocketEndpoint.tcp(host: "127.0.0.1", port: 0).listen(backlog: 1)
        defer { taken.close() }
        let port = try taken.boundPort()
        let log = try TestFiles.makeTemporaryDirectory(prefix: "fl-port") + "/up.log"
        let started = MonotonicClock.now
        let up = try ChildProcess.spawn(
            executable: TestBinary.path, arguments: ["up", "--http-port", "\(port)", "--workers", "1"],
            standardOutput: log)
        let status = try up.wait(timeout: 30)
        #expect(status == .exited(1))
        #expect(MonotonicClock.now - started < 10)
        let output = try String(contentsOfFile: log, encoding: .utf8)
        #expect(output.contains("port \(port) on 127.0.0.1 is already in use"), "\(output)")
        #expect(ProcessTable.children(of: up.pid).isEmpty)
    }

    @Test("two workers hash in parallel: 2×2 concurrent hashes take about as long as 2 in a row")
    func workersHashInParallel() throws {
        // A hash of 40 ms or more on this machine keeps nginx, connections and a busy neighbour's
        // noise small against the hash.
        let (cost, _) = try MachineCalibration.cost(takingAtLeast: 0.04, from: 8)
        let stack = try TestStack(workers: 2, cost: cost, arguments: ["--max-cost", "\(cost)"])
        defer { _ = try? stack.stop() }
        let client = stack.client()
        let rounds = 12
        _ = try client.request("GET", "/api/load")  // warm both paths

        var best = (serial: Double.infinity, parallel: Double.infinity)
        for _ in 0..<3 {
            var started = MonotonicClock.now
            for _ in 0..<(2 * rounds) { #expect(try client.request("GET", "/api/load").status == 200) }
            best.serial = min(best.serial, MonotonicClock.now - started)

            let cpuBefore = stack.workerProcessIDs.map(ProcessTable.cpuTicks(of:))
            started = MonotonicClock.now
            // Four hashes at once, `rounds` times: with two workers on two cores, two run at a time.
            for _ in 0..<rounds {
                let failures = ConcurrencyCounter()
                concurrently(4) { _ in
                    if (try? client.request("GET", "/api/load").status) != 200 { failures.enter() }
                }
                #expect(failures.count == 0)
            }
            best.parallel = min(best.parallel, MonotonicClock.now - started)
            let cpuAfter = stack.workerProcessIDs.map(ProcessTable.cpuTicks(of:))
            let spent = zip(cpuAfter, cpuBefore).map { $0 - $1 }
            // Both workers did a real share of the work.
            #expect(spent.allSatisfy { $0 * 4 >= spent.reduce(0, +) }, "CPU ticks per worker: \(spent)")
        }
        // 4·rounds hashes in parallel vs 2·rounds in a row: ≈ 1 when both cores hash at once, ≈ 2 if one did.
        let ratio = best.parallel / best.serial
        #expect(ratio < 1.5, "parallel \(best.parallel) s vs serial \(best.serial) s (ratio \(ratio))")
    }

    @Test("a worker killed with SIGKILL is restarted and the stack keeps answering")
    func crashedWorkerRestarts() throws {
        let stack = try TestStack(workers: 2)
        defer { _ = try? stack.stop() }
        let before = stack.workerProcessIDs
        #expect(before.count == 2)
        kill(before[0], SIGKILL)
        let deadline = MonotonicClock.now + 10
        var after = stack.workerProcessIDs
        while MonotonicClock.now < deadline, !(after.count == 2 && !after.contains(before[0])) {
            usleep(50_000)
            after = stack.workerProcessIDs
        }
        #expect(after.count == 2 && !after.contains(before[0]) && after.contains(before[1]))
        var answeredBy = Set<Int>()
        for _ in 0..<20 {
            let response = try stack.client().request("GET", "/api/ping")
            #expect(response.status == 200)
            if let pid = response.json["pid"] as? Int { answeredBy.insert(pid) }
        }
        #expect(answeredBy.isSubset(of: Set(after.map(Int.init))))
        #expect(stack.log.contains(#""event":"crashed""#) && stack.log.contains(#""child":"worker 0""#))
    }

    @Test("SIGHUP replaces every worker one by one under load, and no request fails")
    func rollingRestart() throws {
        let stack = try TestStack(workers: 2, cost: 5)
        defer { _ = try? stack.stop() }
        let before = Set(stack.workerProcessIDs)
        let statuses = Mutex<[Int: Int]>([:])
        let end = MonotonicClock.now + 4
        let restarter = Thread {
            usleep(1_000_000)
            kill(stack.process.pid, SIGHUP)
        }
        restarter.start()
        concurrently(8) { index in
            let client = stack.client(timeout: 10)
            while MonotonicClock.now < end {
                let response =
                    index % 2 == 0
                    ? try? client.request("GET", "/api/load")
                    : try? client.request("POST", "/api/hash", body: Array(#"{"password":"p","cost":4}"#.utf8))
                statuses.withLock { $0[response?.status ?? 0, default: 0] += 1 }
            }
        }
        let counts = statuses.withLock { $0 }
        #expect(counts.keys.sorted() == [200], "answers by status (0: no answer): \(counts)")
        #expect((counts[200] ?? 0) > 100)
        let after = Set(stack.workerProcessIDs)
        #expect(after.count == 2 && after.isDisjoint(with: before), "workers before \(before), after \(after)")
        #expect(stack.log.contains(#""event":"rolling restart done""#))
        #expect(!stack.log.contains(#""event":"crashed""#))
    }
}
