import Dispatch
import Synchronization
@testable import MultiRaft

/// An executor and a clock that the test drives: host passes run on the test's thread when it
/// pumps them, and time moves only when it advances it. Hosts run on it with
/// `HostSettings.clock = executor.now`, so a test of ticks, elections or deadlines never waits
/// for real time; it waits only for the WAL writer threads' real writes to report back.
final class ManualExecutor: HostExecutor, @unchecked Sendable {
    private struct Timer {
        var id: Int
        var period: Double
        var next: Double
        var work: @Sendable () -> Void
    }
    private struct State {
        var now = 1_000.0
        var queue: [@Sendable () -> Void] = []
        var timers: [Timer] = []
        var nextTimer = 0
        var pumping = false
    }
    private let state = Mutex(State())
    /// Signalled whenever work is queued (from any thread: the WAL writers report here).
    private let arrived = DispatchSemaphore(value: 0)

    /// The clock to give the hosts (seconds).
    var now: @Sendable () -> Double { { [self] in state.withLock { $0.now } } }

    /// Seconds passed on the manual clock since the start.
    var elapsed: Double { state.withLock { $0.now } - 1_000 }

    var inExecutor: Bool { state.withLock { $0.pumping } }

    func execute(_ work: @escaping @Sendable () -> Void) {
        state.withLock { $0.queue.append(work) }
        arrived.signal()
    }

    func repeatEvery(milliseconds: Int, _ work: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        let id = state.withLock { s in
            s.nextTimer += 1
            let period = Double(milliseconds) / 1000
            s.timers.append(Timer(id: s.nextTimer, period: period, next: s.now + period, work: work))
            return s.nextTimer
        }
        return { [self] in state.withLock { $0.timers.removeAll { $0.id == id } } }
    }

    /// Runs queued work on this thread until none is left; returns whether any ran.
    @discardableResult func drain() -> Bool {
        var ran = false
        while let work = state.withLock({ s -> (@Sendable () -> Void)? in
            guard !s.queue.isEmpty else { return nil }
            s.pumping = true
            return s.queue.removeFirst()
        }) {
            work()
            ran = true
        }
        state.withLock { $0.pumping = false }
        return ran
    }

    /// Moves the clock forward by `milliseconds`, running each timer as often as it falls due
    /// (and the work each run queues), in time order.
    func advance(milliseconds: Int) {
        let end = state.withLock { $0.now } + Double(milliseconds) / 1000
        while true {
            let due = state.withLock { s -> (@Sendable () -> Void)? in
                guard let i = s.timers.indices.min(by: { s.timers[$0].next < s.timers[$1].next }), s.timers[i].next <= end + 1e-9 else {
                    s.now = end
                    return nil
                }
                s.now = max(s.now, s.timers[i].next)
                s.timers[i].next += s.timers[i].period
                s.pumping = true
                return s.timers[i].work
            }
            guard let work = due else { break }
            work()
            state.withLock { $0.pumping = false }
            drain()
        }
        drain()
    }

    /// Pumps until `condition` holds: queued work first; when there is none, a short real wait
    /// for a WAL writer to report, and, if none does, one step of `stepMillis` on the clock.
    /// Gives up after `maxMillis` of manual time.
    func run(until condition: () -> Bool, stepMillis: Int = 10, maxMillis: Int = 60_000) -> Bool {
        let limit = elapsed + Double(maxMillis) / 1000
        while !condition() {
            if drain() { continue }
            if arrived.wait(timeout: .now() + .milliseconds(5)) == .success { continue }
            guard elapsed < limit else { return false }
            advance(milliseconds: stepMillis)
        }
        return true
    }
}
