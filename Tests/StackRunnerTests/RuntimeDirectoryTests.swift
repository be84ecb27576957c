import Foundation
import Testing

@testable import StackRunner

#if canImport(Glibc)
    import Glibc
#endif

@Suite("RuntimeDirectory: private, and removed only when the stack made it")
struct RuntimeDirectoryTests {
    static func mode(_ path: String) -> mode_t? {
        var status = stat()
        return stat(path, &status) == 0 ? status.st_mode & 0o777 : nil
    }

    @Test("a fresh directory is 0700 with nginx's temporary directory, and goes on remove")
    func fresh() throws {
        let directory = try RuntimeDirectory(given: nil)
        #expect(directory.path.hasPrefix("/tmp/fullyloaded."))
        #expect(Self.mode(directory.path) == 0o700)
        #expect(Self.mode(directory.path + "/nginx-tmp") == 0o700)
        if geteuid() == 0 {
            var status = stat()
            #expect(stat(directory.path + "/nginx-tmp", &status) == 0)
            #expect(status.st_uid == getpwnam("nobody")?.pointee.pw_uid)
        }
        directory.remove()
        #expect(!FileManager.default.fileExists(atPath: directory.path))
        directory.remove()
    }

    @Test("a given directory is made private and kept, with what was in it, on remove")
    func given() throws {
        let path = NSTemporaryDirectory() + "fl-runtime-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        chmod(path, 0o755)
        #expect(FileManager.default.createFile(atPath: path + "/worker-0.log", contents: Data("kept".utf8)))
        let directory = try RuntimeDirectory(given: path)
        #expect(Self.mode(path) == 0o700)
        directory.remove()
        #expect(FileManager.default.contents(atPath: path + "/worker-0.log") == Data("kept".utf8))
        // Used a second time (a restart with the same --runtime-dir), its nginx-tmp is no obstacle.
        var again: RuntimeDirectory? = try RuntimeDirectory(given: path)
        let segments = try #require(again?.segmentDirectory)
        #expect(segments.hasPrefix("/dev/shm/fullyloaded.") && Self.mode(segments) == 0o700)
        // Dropped without remove(), its segments' directory (always its own) still goes.
        again = nil
        #expect(!FileManager.default.fileExists(atPath: segments))
    }

    @Test("a directory that cannot be made is a clear configuration error")
    func cannotBeMade() throws {
        let file = NSTemporaryDirectory() + "fl-runtime-file-\(getpid())"
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        defer { unlink(file) }
        #expect {
            _ = try RuntimeDirectory(given: file + "/below")
        } throws: { error in
            guard case .invalidConfiguration(let message) = error as? StackError else { return false }
            return message.contains("cannot create runtime directory \(file)/below")
        }
    }
}
