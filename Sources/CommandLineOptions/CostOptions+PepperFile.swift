import ArgumentParser
import Foundation
import POSIXSupport
import PasswordService

#if canImport(Glibc)
    import Glibc
#endif

extension CostOptions {
    /// The keys of `--pepper-file`, or `nil` without one. The file must be a regular file (no
    /// symbolic link), root's or this process's user's, and closed to others (0600, or 0640 for a
    /// group that may read it): a pepper anyone else could read, or change, protects nothing.
    public func pepper() throws -> Pepper? {
        guard let pepperFile, let text = try pepperFileText() else { return nil }
        do throws(Pepper.Problem) {
            return try Pepper(parsing: text)
        } catch {
            throw ValidationError("--pepper-file \(pepperFile): \(error)")
        }
    }

    /// The text of `--pepper-file`, read after the checks above, and parsed once to refuse a bad
    /// file early; `nil` without one.
    public func pepperFileText() throws -> String? {
        guard let pepperFile else { return nil }
        let descriptor: Int32
        var status = stat()
        do throws(SystemCallError) {
            descriptor = try systemCall("open") { open(pepperFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
        } catch {
            throw ValidationError("--pepper-file \(pepperFile): \(error)")
        }
        defer { close(descriptor) }
        do throws(SystemCallError) {
            try systemCall("fstat") { fstat(descriptor, &status) }
        } catch {
            throw ValidationError("--pepper-file \(pepperFile): \(error)")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw ValidationError("--pepper-file \(pepperFile) is not a regular file")
        }
        guard status.st_uid == 0 || status.st_uid == geteuid() else {
            throw ValidationError(
                "--pepper-file \(pepperFile) belongs to uid \(status.st_uid): it must be root's or this user's (uid \(geteuid()))"
            )
        }
        let mode = status.st_mode & 0o7777
        guard mode == 0o600 || mode == 0o640 else {
            throw ValidationError(
                "--pepper-file \(pepperFile) has mode \(String(mode, radix: 8)): it must be 600 or 640 (chmod 600 \(pepperFile))"
            )
        }
        guard status.st_size <= 64 * 1024 else { throw ValidationError("--pepper-file \(pepperFile) is over 64 KiB") }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        do throws(SystemCallError) {
            let count = try systemCall("read") {
                bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            }
            guard count == bytes.count else { throw SystemCallError(call: "read (short)", errno: EIO) }
        } catch {
            throw ValidationError("--pepper-file \(pepperFile): \(error)")
        }
        defer { bytes.withUnsafeMutableBytes { SecretMemory.wipe($0) } }
        let text = String(decoding: bytes, as: UTF8.self)
        do throws(Pepper.Problem) {
            _ = try Pepper(parsing: text)
        } catch {
            throw ValidationError("--pepper-file \(pepperFile): \(error)")
        }
        return text
    }
}
