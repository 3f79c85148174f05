import Logging
import Synchronization
import SystemClock

/// Keeps high-rate events (rejected clients, failed reconnects, slow disk syncs) from flooding
/// the log: per key, at most `burst` events pass in each `interval`; the first one to pass
/// after some were held back says how many were.
public final class LogRateLimiter: Sendable {
    private struct Window {
        var start: Double
        var passed: Int
        var suppressed: Int
    }

    private let burst: Int
    private let interval: Double
    private let clock: @Sendable () -> Double
    private let windows = Mutex<[String: Window]>([:])

    /// - Parameters:
    ///   - burst: events per key that pass in one interval.
    ///   - interval: the interval, in seconds.
    ///   - clock: monotonic seconds (tests inject their own).
    public init(burst: Int = 5, interval: Double = 10, clock: @escaping @Sendable () -> Double = { monotonicSeconds() }) {
        self.burst = max(1, burst)
        self.interval = interval
        self.clock = clock
    }

    /// Whether an event of `key` should be logged now; when it should, also how many events of
    /// that key were held back since the last one logged (0 when none).
    public func admit(_ key: String) -> (log: Bool, suppressed: Int) {
        let now = clock()
        return windows.withLock { all in
            var w = all[key] ?? Window(start: now, passed: 0, suppressed: 0)
            if now - w.start >= interval { w.start = now; w.passed = 0 }
            defer { all[key] = w }
            guard w.passed < burst else {
                w.suppressed += 1
                return (false, 0)
            }
            w.passed += 1
            let held = w.suppressed
            w.suppressed = 0
            return (true, held)
        }
    }
}

extension Logger {
    /// Logs through `limiter` under `key`: dropped while the key is over its rate, and marked
    /// with `suppressed=N` when events were held back before this one.
    public func limited(_ limiter: LogRateLimiter, key: String, _ level: Logger.Level, _ message: @autoclosure () -> Logger.Message,
                        metadata: @autoclosure () -> Logger.Metadata = [:]) {
        guard level >= logLevel else { return }
        let decision = limiter.admit(key)
        guard decision.log else { return }
        var all = metadata()
        if decision.suppressed > 0 { all["suppressed"] = "\(decision.suppressed)" }
        log(level: level, message(), metadata: all)
    }
}
