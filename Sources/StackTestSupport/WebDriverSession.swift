import Foundation
import LoopbackHTTP
import POSIXSupport
import StackRunner

/// A real headless Chromium driven over WebDriver (Debian's chromium and chromium-driver).
public final class WebDriverSession {
    private let driver: ChildProcess
    private let client: LoopbackHTTPClient
    private let sessionID: String

    /// Starts chromedriver and a headless Chromium session with a window of `width` × `height`.
    public init(width: Int = 1280, height: Int = 1000) throws {
        let port = try LoopbackPort.ephemeral()
        driver = try ChildProcess.spawn(
            executable: "/usr/bin/chromedriver", arguments: ["--port=\(port)"], standardOutput: "/dev/null")
        client = LoopbackHTTPClient(port: port, timeout: 60)
        let deadline = MonotonicClock.now + 20
        while client.status(of: "/status") != 200 {
            if MonotonicClock.now > deadline {
                driver.send(SIGKILL)
                throw TestStackError.notReady(log: "chromedriver did not answer on port \(port)")
            }
            usleep(50_000)
        }
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": "/usr/bin/chromium",
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                            "--window-size=\(width),\(height)",
                        ],
                    ],
                ]
            ]
        ]
        let created = try Self.call(client, "POST", "/session", capabilities)
        guard let id = (created as? [String: Any])?["sessionId"] as? String else {
            driver.send(SIGKILL)
            throw TestStackError.notReady(log: "no WebDriver session: \(created ?? "nothing")")
        }
        sessionID = id
    }

    deinit {
        _ = try? Self.call(client, "DELETE", "/session/\(sessionID)", nil)
        _ = try? driver.stop(signal: SIGTERM, grace: 5)
    }

    /// Opens `url`.
    public func navigate(to url: String) throws {
        _ = try Self.call(client, "POST", "/session/\(sessionID)/url", ["url": url])
    }

    /// Runs `script` (a function body; `return` its result) in the page.
    public func execute(_ script: String) throws -> Any? {
        try Self.call(client, "POST", "/session/\(sessionID)/execute/sync", ["script": script, "args": []])
    }

    /// A PNG of the window.
    public func screenshot() throws -> Data {
        guard let base64 = try Self.call(client, "GET", "/session/\(sessionID)/screenshot", nil) as? String,
            let data = Data(base64Encoded: base64)
        else { throw TestStackError.notReady(log: "no screenshot") }
        return data
    }

    private static func call(_ client: LoopbackHTTPClient, _ method: String, _ path: String, _ body: Any?) throws
        -> Any?
    {
        let bytes = try body.map { Array(try JSONSerialization.data(withJSONObject: $0)) } ?? []
        let response = try client.request(method, path, headers: [("Content-Type", "application/json")], body: bytes)
        let json =
            try JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed]) as? [String: Any]
        if response.status != 200 {
            throw TestStackError.notReady(
                log: "WebDriver \(method) \(path): \(response.status) \(response.text.prefix(500))")
        }
        let value = json?["value"]
        return value is NSNull ? nil : value
    }
}
