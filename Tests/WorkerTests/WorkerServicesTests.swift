import Admission
import Foundation
import POSIXSupport
import StackTestSupport
import Synchronization
import Testing

@testable import Worker

@Suite("WorkerServices: started in order, stopped in reverse")
struct WorkerServicesTests {
    final class StopLog: Sendable {
        let names = Mutex<[String]>([])
    }

    struct Recorded: WorkerService {
        let name: String
        let log: StopLog
        func stop() { log.names.withLock { $0.append(name) } }
    }

    @Test("stopAll stops the last started first, each once")
    func reverseOrder() {
        let log = StopLog()
        var services = WorkerServices()
        for name in ["admission", "listener", "readiness", "watchdog"] { services.keep(Recorded(name: name, log: log)) }
        services.stopAll()
        services.stopAll()
        #expect(log.names.withLock { $0 } == ["watchdog", "readiness", "listener", "admission"])
    }

    @Test("a worker whose listener cannot start leaves the segment and stops its heartbeat")
    func failedListenerStopsAdmission() throws {
        let directory = try TestFiles.makeTemporaryDirectory(prefix: "fl-services")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let segmentPath = directory + "/segment"
        var configuration = WorkerConfiguration(
            listen: .endpoint(.unix(path: directory + "/missing/worker.sock")), requestThreads: 4,
            admission: AdmissionSettings(
                segmentPath: segmentPath, computeSlots: 1, deadline: 2, initialEstimateSeconds: 0.01, estimateCost: 4))
        configuration.shutdownGrace = 1
        let worker = WorkerProcess(configuration: configuration)
        // On a thread of its own: run() blocks the signals it waits for in its calling thread.
        let outcome = Mutex<String?>(nil)
        let thread = Thread {
            do {
                try worker.run()
                outcome.withLock { $0 = "returned" }
            } catch {
                outcome.withLock { $0 = "\(error)" }
            }
        }
        thread.start()
        while !thread.isFinished { usleep(10_000) }
        let failure = try #require(outcome.withLock { $0 })
        #expect(
            failure.contains("bind") || failure.contains("ENOENT") || failure.contains("No such file"), "\(failure)")
        let segment = try #require(SharedSegment.attach(path: segmentPath))
        let workers = AdmissionSnapshot.read(segment, predictionCost: 4, now: MonotonicClock.now).workers
        #expect(!workers.contains { $0.pid == getpid() }, "still registered: \(workers)")
        #expect(!Self.threadNames().contains("heartbeat"), "\(Self.threadNames())")
    }

    static func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap {
            (try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }
}
