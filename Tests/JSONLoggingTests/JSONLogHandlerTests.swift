import Foundation
import JSONLogging
import Logging
import Synchronization
import Testing

@Suite struct JSONLogHandlerTests {
    /// Collects the lines a handler writes.
    final class Lines: Sendable {
        let lines = Mutex<[[UInt8]]>([])
        var objects: [[String: Any]] {
            lines.withLock { $0 }.map { try! JSONSerialization.jsonObject(with: Data($0)) as! [String: Any] }
        }
    }

    func logger(_ lines: Lines, label: String = "worker") -> Logger {
        Logger(label: label) { label in
            JSONLogHandler(label: label) { line in lines.lines.withLock { $0.append(line) } }
        }
    }

    @Test func writesOneObjectPerLineWithPidEventAndTypedMetadata() throws {
        let lines = Lines()
        var log = logger(lines)
        log[metadataKey: "slot"] = .stringConvertible(3)
        log.info(
            "refused",
            metadata: [
                "predicted_seconds": .stringConvertible(2.5), "reason": "predicted",
                "drained": .stringConvertible(true),
            ])
        let raw = lines.lines.withLock { $0 }
        #expect(raw.count == 1)
        #expect(raw[0].last == UInt8(ascii: "\n"))
        #expect(raw[0].dropLast().contains(UInt8(ascii: "\n")) == false)
        let object = try #require(lines.objects.first)
        #expect(object["event"] as? String == "refused")
        #expect(object["component"] as? String == "worker")
        #expect(object["level"] as? String == "info")
        #expect(object["pid"] as? Int == Int(getpid()))
        #expect(object["predicted_seconds"] as? Double == 2.5)
        #expect(object["slot"] as? Int == 3)
        #expect(object["drained"] as? Bool == true)
        #expect(object["reason"] as? String == "predicted")
        let time = try #require(object["time"] as? Double)
        #expect(abs(time - Date().timeIntervalSince1970) < 60)
    }

    @Test func escapesMessagesAndCannotOverwriteFixedMembers() throws {
        let lines = Lines()
        let log = logger(lines)
        log.warning("crashed \"worker 1\"\nsecond line", metadata: ["pid": "forged", "event": "forged"])
        let object = try #require(lines.objects.first)
        #expect(object["event"] as? String == "crashed \"worker 1\"\nsecond line")
        #expect(object["pid"] as? Int == Int(getpid()))
        #expect(object["level"] as? String == "warning")
    }

    @Test func dropsLinesBelowItsLevel() {
        let lines = Lines()
        let log = logger(lines)
        log.debug("noise")
        #expect(lines.lines.withLock { $0.isEmpty })
    }
}
