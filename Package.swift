// swift-tools-version: 6.0
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "fullyloaded",
    products: [
        .executable(name: "fullyloaded", targets: ["fullyloaded"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries from Debian packages: libfcgi-dev, libcrypt-dev, libssl-dev.
        .systemLibrary(name: "CFastCGI", path: "Sources/CFastCGI"),
        .systemLibrary(name: "CCrypt", path: "Sources/CCrypt"),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        // What Swift cannot call directly (variadic syscall, prctl).
        .target(name: "CSystemShims", path: "Sources/CSystemShims"),
        // The shared-memory segment's layout, its robust lock and futex calls.
        .target(name: "CSharedState", path: "Sources/CSharedState"),
        .target(name: "Admission", dependencies: ["CSharedState", "POSIXSupport"], swiftSettings: strictSettings),

        .target(name: "POSIXSupport", dependencies: ["CSystemShims"], swiftSettings: strictSettings),
        // Small JSON documents without Foundation: responses on the request path, log lines.
        .target(name: "JSONWriting", swiftSettings: strictSettings),
        .target(
            name: "JSONLogging",
            dependencies: ["JSONWriting", "POSIXSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // The small blocking HTTP/1.1 client: the monitor's ping probe, `up`'s readiness checks, tests.
        .target(name: "LoopbackHTTP", dependencies: ["POSIXSupport"], swiftSettings: strictSettings),
        .target(name: "FastCGI", dependencies: ["CFastCGI", "POSIXSupport"], swiftSettings: strictSettings),
        .target(name: "Bcrypt", dependencies: ["CCrypt", "COpenSSL"], swiftSettings: strictSettings),
        .target(name: "PasswordService", dependencies: ["Bcrypt", "JSONWriting", "POSIXSupport"], swiftSettings: strictSettings),
        .target(
            name: "Worker",
            dependencies: [
                "FastCGI", "PasswordService", "Admission", "Bcrypt", "POSIXSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StackRunner",
            dependencies: ["Admission", "LoopbackHTTP", "POSIXSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Monitor",
            dependencies: [
                "Admission", "LoopbackHTTP", "POSIXSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "fullyloaded",
            dependencies: [
                "Admission", "Worker", "PasswordService", "StackRunner", "POSIXSupport", "Monitor", "JSONLogging",
                "LoopbackHTTP", "JSONWriting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "StackTestSupport",
            dependencies: ["StackRunner", "LoopbackHTTP", "POSIXSupport"],
            swiftSettings: strictSettings
        ),

        // libFuzzer target for the request parsing and validation (Deploy/dev.sh fuzz).
        .executableTarget(
            name: "RequestFuzzer", dependencies: ["PasswordService", "Bcrypt", "POSIXSupport"],
            path: "Tests/RequestFuzzer", exclude: ["Seeds"], swiftSettings: strictSettings),

        .testTarget(
            name: "AdmissionTests", dependencies: ["Admission", "StackTestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "MonitorTests", dependencies: ["Monitor", "LoopbackHTTP", "StackTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "JSONLoggingTests", dependencies: ["JSONLogging"], swiftSettings: strictSettings),
        .testTarget(name: "POSIXSupportTests", dependencies: ["POSIXSupport"], swiftSettings: strictSettings),
        .testTarget(name: "JSONWritingTests", dependencies: ["JSONWriting"], swiftSettings: strictSettings),
        .testTarget(
            name: "FastCGITests", dependencies: ["FastCGI", "StackTestSupport"], swiftSettings: strictSettings),
        .testTarget(name: "BcryptTests", dependencies: ["Bcrypt"], swiftSettings: strictSettings),
        .testTarget(
            name: "WorkerTests", dependencies: ["Worker", "Admission", "StackTestSupport", "JSONLogging"],
            swiftSettings: strictSettings),
        .testTarget(name: "PasswordServiceTests", dependencies: ["PasswordService"], swiftSettings: strictSettings),
        .testTarget(
            name: "StackRunnerTests",
            dependencies: ["StackRunner", "LoopbackHTTP", "StackTestSupport"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
