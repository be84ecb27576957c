import Foundation
import POSIXSupport

/// A self-signed certificate for localhost, made once with the openssl command and kept for
/// the next runs (so a browser's exception for it keeps holding).
public struct SelfSignedCertificate: Sendable {
    /// The certificate (PEM).
    public let certificatePath: String
    /// Its private key (PEM, readable by the owner only).
    public let keyPath: String

    /// Where `up` keeps it by default: `$XDG_STATE_HOME/fullyloaded/tls`, else
    /// `~/.local/state/fullyloaded/tls`.
    public static var defaultDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/fullyloaded/tls" }
        return NSHomeDirectory() + "/.local/state/fullyloaded/tls"
    }

    /// Uses the certificate in `directory`, making it first if it is not there.
    public init(directory: String, openssl: String = "/usr/bin/openssl") throws(StackError) {
        certificatePath = directory + "/localhost.crt"
        keyPath = directory + "/localhost.key"
        let files = FileManager.default
        if files.fileExists(atPath: certificatePath), files.fileExists(atPath: keyPath) { return }
        do {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .invalidConfiguration("cannot create \(directory): \(error)")
        }
        guard files.isExecutableFile(atPath: openssl) else { throw .missingFile(openssl) }
        let log = directory + "/openssl.log"
        let arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", keyPath + ".new", "-out", certificatePath + ".new", "-days", "825", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
        ]
        let status: ExitStatus?
        do {
            let process = try ChildProcess.spawn(executable: openssl, arguments: arguments, standardOutput: log)
            status = try process.wait(timeout: 30)
        } catch {
            throw .system(error)
        }
        guard status == .exited(0) else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw .invalidConfiguration("openssl could not make a certificate: \(output)")
        }
        chmod(keyPath + ".new", 0o600)
        // Renamed into place only when both exist: a run cut short leaves no half pair behind.
        rename(keyPath + ".new", keyPath)
        rename(certificatePath + ".new", certificatePath)
        unlink(log)
    }
}
