import Foundation
import Logging
import LoopbackHTTP
import POSIXSupport

// nginx: its config rendered from the template, started in the foreground, ready when a ping answers.
extension Stack {
    func startNginx(template: NginxTemplate) throws(StackError) {
        let upstreams = configuration.upstreams(servers: workers.map(\.endpoint) + configuration.remoteWorkers)
        let apiNetworks = configuration.apiNetworks.map { "        \($0) 1;" }.joined(separator: "\n")
        let rendered = try template.render([
            "RUNTIME_DIR": runtimeDirectory,
            "SHARE_DIR": configuration.shareDirectory,
            "HTTP_PORT": "\(configuration.httpPort)",
            "IPV6_LISTEN": configuration.ipv6Loopback
                ? "        listen [::1]:\(configuration.httpPort) backlog=4096;" : "",
            "UPSTREAMS": upstreams.render(),
            "MONITOR_SOCKET": monitorSocketPath,
            "USER_DIRECTIVE": geteuid() == 0 ? "user nobody nogroup;" : "",
            "RATE_LIMITED": configuration.rateLimit == nil ? "0" : "1",
            "RATE_LIMIT": "\(configuration.rateLimit ?? 1)",
            "TRUSTED_PROXIES": configuration.trustedProxies.map { "        \($0) 1;" }.joined(separator: "\n"),
            "HTTPS_INCLUDE": configuration.httpsPort == nil ? "" : "include https-server.conf;",
            "API_OPEN": configuration.apiNetworks.isEmpty ? "1" : "0",
            "API_NETWORKS": apiNetworks,
            "PAGES_OPEN": configuration.privatePages ? "0" : "1",
            "PAGE_NETWORKS": configuration.privatePages ? apiNetworks : "",
        ])
        let configPath = runtimeDirectory + "/nginx.conf"
        if let httpsPort = configuration.httpsPort {
            // Read as root before root was dropped, or here as the user it belongs to; nginx reads
            // a copy in the private runtime directory.
            let certificate: SelfSignedCertificate
            if let given = configuration.certificate {
                certificate = given
            } else {
                certificate = try SelfSignedCertificate(directory: configuration.tlsDirectory)
            }
            let paths = try certificate.install(in: runtimeDirectory + "/tls")
            var clientCertificates = ""
            if let authority = configuration.apiClientCertificateAuthority {
                let path = runtimeDirectory + "/tls/api-clients-ca.pem"
                do {
                    try authority.write(toFile: path, atomically: true, encoding: .utf8)
                } catch {
                    throw .invalidConfiguration("cannot write \(path): \(error)")
                }
                // Optional: browsers are not asked; a caller without one is judged by its network.
                clientCertificates = "    ssl_client_certificate \(path);\n    ssl_verify_client optional;"
            }
            let https = try NginxTemplate(contentsOf: configuration.shareDirectory + "/nginx/up-https.conf.template")
                .render([
                    "HTTPS_PORT": "\(httpsPort)", "SHARE_DIR": configuration.shareDirectory,
                    "TLS_CERTIFICATE": paths.certificate, "TLS_KEY": paths.key,
                    "CLIENT_CERTIFICATES": clientCertificates,
                ])
            do {
                try https.write(toFile: runtimeDirectory + "/https-server.conf", atomically: true, encoding: .utf8)
            } catch {
                throw .invalidConfiguration("cannot write https-server.conf: \(error)")
            }
        }
        do {
            // nginx resolves relative includes against the config's folder: `include snippets/…`
            // then means the same here and in /etc/nginx on a production host.
            let snippets = runtimeDirectory + "/snippets"
            try? FileManager.default.removeItem(atPath: snippets)
            try FileManager.default.createSymbolicLink(
                atPath: snippets, withDestinationPath: configuration.shareDirectory + "/nginx/snippets")
            try rendered.write(toFile: configPath, atomically: true, encoding: .utf8)
        } catch {
            throw .invalidConfiguration("cannot write \(configPath): \(error)")
        }
        do {
            nginx = try ChildProcess.spawn(
                executable: configuration.nginxExecutable,
                arguments: ["-p", runtimeDirectory, "-c", configPath, "-e", runtimeDirectory + "/nginx-error.log"],
                standardOutput: runtimeDirectory + "/nginx.out", newSession: childrenNeedSessions)
        } catch {
            throw .system(error)
        }
        log.info(
            "nginx started", metadata: ["nginx_pid": .stringConvertible(Int(nginx!.pid)), "config": "\(configPath)"])
    }

    func waitForPing(timeout: Double) throws(StackError) {
        let client = LoopbackHTTPClient(port: configuration.httpPort, timeout: 2)
        let deadline = MonotonicClock.now + timeout
        while true {
            if let status = try reap(nginx) {
                nginx = nil
                throw .childFailed(name: "nginx", status: status, logTail: tail(of: "nginx-error.log"))
            }
            if client.status(of: "/api/ping") == 200 { return }
            if MonotonicClock.now > deadline {
                throw .notReady(name: "nginx", seconds: timeout, logTail: tail(of: "nginx-error.log"))
            }
            usleep(20_000)
        }
    }
}
