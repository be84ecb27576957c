import Foundation
import JSONLogging
import Logging
import Synchronization
import Testing

@testable import Worker

@Suite struct RefusalLogTests {
    @Test func writesAtMostOneLineASecondCountingTheRefusalsBetween() throws {
        let lines = Mutex<[[UInt8]]>([])
        let log = Logger(label: "worker") { label in
            JSONLogHandler(label: label) { line in lines.withLock { $0.append(line) } }
        }
        let refusals = RefusalLog(log: log, interval: 1)
        refusals.record(.predicted, predictedSeconds: 2.4, deadline: 2, now: 100)
        for step in 1...99 {
            refusals.record(.predicted, predictedSeconds: 2.5, deadline: 2, now: 100 + Double(step) / 100)
        }
        refusals.record(.atDeadline, predictedSeconds: 1.9, deadline: 2, now: 101.0)
        let written = try lines.withLock { $0 }.map {
            try #require(try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any])
        }
        #expect(written.count == 2)
        #expect(written[0]["refusals"] as? Int == 1)
        #expect(written[0]["predicted_seconds"] as? Double == 2.4)
        #expect(written[1]["refusals"] as? Int == 100)
        #expect(written[1]["reason"] as? String == "at_deadline")
        #expect(written[1]["deadline"] as? Double == 2)
    }
}
