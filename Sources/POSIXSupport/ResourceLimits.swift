#if canImport(Glibc)
    import Glibc
#endif

/// The process's resource limits that the worker adjusts.
public enum ResourceLimits {
    /// Raises the soft limit on open descriptors to the hard one (systemd's default soft limit,
    /// 1024, is for programs that use select(2); nothing here does) and returns the new soft
    /// limit.
    @discardableResult
    public static func raiseOpenFilesToHardLimit() throws(SystemCallError) -> Int {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        try systemCall("getrlimit(RLIMIT_NOFILE)") { getrlimit(resource, &limit) }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            try systemCall("setrlimit(RLIMIT_NOFILE)") { setrlimit(resource, &limit) }
        }
        return Int(clamping: limit.rlim_cur)
    }
}
