import CFastCGI
import POSIXSupport

/// One FastCGI request accepted by a server thread; valid only inside the handler call.
///
/// Parameter strings are copied out at once: libfcgi frees them with the request.
public struct FastCGIRequest: ~Copyable {
    let raw: UnsafeMutablePointer<FCGX_Request>

    /// The value of a FastCGI parameter such as `REQUEST_METHOD`, or `nil` when nginx did not send it.
    public func parameter(_ name: String) -> String? {
        guard let value = FCGX_GetParam(name, raw.pointee.envp) else { return nil }
        return String(cString: value)
    }

    /// Reads the whole request body, keeping at most `limit` bytes.
    ///
    /// The rest is read and dropped, so that a kept-alive connection stays in step; nginx's
    /// `client_max_body_size` bounds how much that can be.
    public func readBody(keepingAtMost limit: Int) -> (bytes: [UInt8], totalLength: Int) {
        var kept: [UInt8] = []
        var total = 0
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 4096) { chunk in
            // The chunk held the body, the password with it: wiped before the stack is reused.
            defer { SecretMemory.wipe(UnsafeMutableRawBufferPointer(chunk)) }
            while true {
                let count = Int(FCGX_GetStr(chunk.baseAddress, Int32(chunk.count), raw.pointee.in))
                if count <= 0 { break }
                let room = max(0, limit - kept.count)
                if room > 0 {
                    UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(chunk)[..<min(room, count)])
                        .withMemoryRebound(to: UInt8.self) { kept.append(contentsOf: $0) }
                }
                total += count
            }
        }
        return (kept, total)
    }

    /// Overwrites libfcgi's input buffer of this request — the records of its body, a password
    /// among them — before libfcgi frees it. Call once the body has been read.
    ///
    /// libfcgi keeps the buffer in a private structure whose first fields, unchanged since
    /// libfcgi 2.4.0, are the buffer and its length; they are used only if they agree with the
    /// stream's public pointers, which lie inside the buffer.
    public func wipeInputBuffer() {
        guard let stream = raw.pointee.in, let data = UnsafeMutableRawPointer(stream.pointee.data) else { return }
        guard let buffer = data.load(as: UnsafeMutablePointer<UInt8>?.self) else { return }
        let length = Int(data.load(fromByteOffset: MemoryLayout<UnsafeMutableRawPointer>.stride, as: Int32.self))
        guard (32...65536).contains(length) else { return }
        let end = buffer + length
        for pointer in [stream.pointee.rdNext, stream.pointee.stop, stream.pointee.stopUnget] {
            guard let pointer, pointer >= buffer, pointer <= end else { return }
        }
        SecretMemory.wipe(UnsafeMutableRawBufferPointer(start: buffer, count: length))
    }

    /// Writes raw bytes (CGI headers, a blank line, then the body) to the response stream.
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                // A failed write means nginx went away; libfcgi drops the connection at finish.
                _ = FCGX_PutStr(chars.baseAddress, Int32(chars.count), raw.pointee.out)
            }
        }
    }
}
