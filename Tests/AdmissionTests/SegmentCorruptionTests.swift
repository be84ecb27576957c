import CSharedState
import Foundation
import StackTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A process with the segment's uid (any `nobody` process under `up`, or the monitor) can write
/// anything into it while workers use it. The worst it may cause is a wrong decision answered as
/// a refusal: no worker crashes, reads or writes past the mapping, or hangs.
@Suite("The shared segment scribbled on while workers run", .serialized)
struct SegmentCorruptionTests {
    /// The segment of a stack, mapped read-write as its user could.
    final class Scribbler {
        let pointer: UnsafeMutableRawPointer
        let size: Int

        init(path: String) throws {
            let descriptor = open(path, O_RDWR)
            try #require(descriptor >= 0, "open \(path): errno \(errno)")
            defer { close(descriptor) }
            var status = stat()
            fstat(descriptor, &status)
            size = Int(status.st_size)
            let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
            try #require(mapped != MAP_FAILED)
            pointer = mapped!
        }

        deinit { munmap(pointer, size) }

        func write<Value>(_ field: PartialKeyPath<fl_segment>, _ value: Value) {
            write(at: MemoryLayout<fl_segment>.offset(of: field)!, value)
        }

        func write<Value>(at offset: Int, _ value: Value) {
            pointer.advanced(by: offset).assumingMemoryBound(to: Value.self).pointee = value
        }

        /// Every running slot holding ticket 1 at `cost`.
        func fillRunning(cost: UInt32, lanes: UInt32 = 1, membersLeft: UInt32 = 1) {
            var entry = fl_running()
            entry.ticket = 1
            entry.cost = cost
            entry.lanes = lanes
            entry.members_left = membersLeft
            let start = MemoryLayout<fl_segment>.offset(of: \fl_segment.running)!
            for index in 0..<Int(FL_MAX_SLOTS) { write(at: start + index * MemoryLayout<fl_running>.stride, entry) }
        }
    }

    @Test(
        "capacity 0 or past the mapping, tickets at the ends of their range, slots, costs and the estimate out of range: every answer is a 200 or a 503, and no worker dies"
    )
    func scribbledFields() throws {
        let stack = try TestStack(workers: 2, cost: 4)
        defer { _ = try? stack.stop() }
        let scribbler = try Scribbler(path: try #require(stack.segmentPaths.first))
        let workers = Set(stack.workerProcessIDs)
        let client = stack.client(timeout: 10)
        func requests(_ what: String) throws {
            for index in 0..<12 {
                let path = index % 3 == 2 ? "/api/stats" : "/api/load"
                let response = try client.request("GET", path)
                #expect([200, 503].contains(response.status), "\(what): \(path) answered \(response.status)")
            }
            #expect(Set(stack.workerProcessIDs) == workers, "\(what): a worker died")
        }
        try requests("untouched")
        let scribbles: [(String, () -> Void)] = [
            ("job capacity 0", { scribbler.write(\fl_segment.job_capacity, UInt32(0)) }),
            ("job capacity past the mapping", { scribbler.write(\fl_segment.job_capacity, UInt32.max) }),
            (
                "next ticket at its end",
                {
                    scribbler.write(\fl_segment.next_ticket, UInt64.max)
                    scribbler.write(\fl_segment.grant_ticket, UInt64(1))
                }
            ),
            ("grant ticket past the next", { scribbler.write(\fl_segment.grant_ticket, UInt64.max - 5) }),
            ("slots 0", { scribbler.write(\fl_segment.slots, UInt32(0)) }),
            ("slots past the table", { scribbler.write(\fl_segment.slots, UInt32.max) }),
            (
                "counts at their ends",
                {
                    scribbler.write(\fl_segment.running_count, UInt32.max)
                    scribbler.write(\fl_segment.queued_count, UInt32.max)
                }
            ),
            ("running jobs of cost 2^32 − 1", { scribbler.fillRunning(cost: UInt32.max) }),
            ("running batches of 2^32 − 1 lanes", { scribbler.fillRunning(cost: 4, lanes: .max, membersLeft: .max) }),
            (
                "batch factors NaN and huge",
                {
                    let start = MemoryLayout<fl_segment>.offset(of: \fl_segment.batch_factor)!
                    for lanes in 0...Int(FL_MAX_BATCH) {
                        scribbler.write(at: start + lanes * 8, lanes % 2 == 0 ? Double.nan : 1e300)
                    }
                }
            ),
            ("estimate NaN", { scribbler.write(\fl_segment.unit_seconds, Double.nan) }),
            ("estimate infinite", { scribbler.write(\fl_segment.unit_seconds, Double.infinity) }),
            ("recent waits' position at its end", { scribbler.write(\fl_segment.recent_next, UInt32.max) }),
            ("waiting list pointing anywhere", { scribbler.write(\fl_segment.waiting_clients, Int32.max) }),
            ("active groups at their end", { scribbler.write(\fl_segment.active_groups, UInt32.max) }),
            ("recent work NaN", { scribbler.write(\fl_segment.active_recent_work, Double.nan) }),
            ("running jobs of argon2id class 0", { scribbler.fillRunning(cost: 0) }),
            (
                "memory in use and budget at their ends, argon2id's estimate NaN",
                {
                    scribbler.write(\fl_segment.memory_in_use_kib, UInt64.max)
                    scribbler.write(\fl_segment.memory_budget_kib, UInt64.max - 1)
                    scribbler.write(\fl_segment.argon2_unit_seconds, Double.nan)
                }
            ),
            (
                "argon2id classes of 2^32 − 1 KiB and passes",
                {
                    let start = MemoryLayout<fl_segment>.offset(of: \fl_segment.argon2_classes)!
                    for index in 0..<Int(FL_ARGON2_CLASSES) {
                        scribbler.write(at: start + index * 16, UInt32.max)
                        scribbler.write(at: start + index * 16 + 4, UInt32.max)
                        scribbler.write(at: start + index * 16 + 8, UInt64.max)
                    }
                }
            ),
        ]
        for (what, scribble) in scribbles {
            scribble()
            try requests(what)
        }
        #expect(!stack.log.contains(#""event":"restarted""#), "a worker was restarted")
    }
}
