import Foundation

/// Finds the folder that holds `nginx/` (templates, snippets and static files).
public enum ShareDirectory {
    /// Where the Debian package installs it.
    public static let installed = "/usr/share/fullyloaded"

    /// The path of the running binary.
    public static func currentExecutable() throws -> String {
        try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    /// The nearest folder above `executable` with `nginx/up.conf.template` (a checkout with
    /// `.build/`), else the installed one, else `nil`.
    public static func locate(from executable: String) -> String? {
        var folder = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while folder.path != "/" {
            if FileManager.default.fileExists(atPath: folder.path + "/nginx/up.conf.template") { return folder.path }
            folder = folder.deletingLastPathComponent()
        }
        return FileManager.default.fileExists(atPath: installed + "/nginx/up.conf.template") ? installed : nil
    }
}
