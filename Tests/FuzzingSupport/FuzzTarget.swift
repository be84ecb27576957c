// What every fuzz target of the repository shares: libFuzzer's entry points. A target's main
// calls `FuzzTarget.run(named:_:)` with the function that checks one input.
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The libFuzzer driver for one fuzz target (built by `Deploy/dev.sh fuzz`: -sanitize=fuzzer -DFUZZING).
public enum FuzzTarget {
    // Set once, before libFuzzer starts, which then calls it from one thread only.
    nonisolated(unsafe) static var check: ((UnsafeRawBufferPointer) -> Void)?

    /// Hands the process to libFuzzer, which calls `check` with each input; built without
    /// `FUZZING`, says how to build it and exits 2.
    public static func run(named name: String, _ check: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
        #if FUZZING
            Self.check = check
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(runFuzzerDriver(&argc, &argv, fuzzOneInput))
        #else
            // Built with everything else so that it always compiles; it fuzzes only as built by dev.sh.
            FileHandle.standardError.write(Data("\(name): build with Deploy/dev.sh fuzz\n".utf8))
            exit(2)
        #endif
    }

    /// Ends the run at a broken invariant: libFuzzer saves the input as crash-<sha1>.
    public static func fail(_ what: String) -> Never {
        FileHandle.standardError.write(Data("broken invariant: \(what)\n".utf8))
        abort()
    }
}

#if FUZZING
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    // libFuzzer's own main is linked too; SwiftPM's entry point comes first, so it hands over here.
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        FuzzTarget.check?(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
#endif
