import KVStore
import MultiRaft
import NIOConcurrencyHelpers
import NIOCore
import SystemClock

/// Active expiry. A shard's clock is the newest timestamp in its log, so without writes a key
/// whose time has come would stay (it reads as present until an entry moves the clock past
/// it). Ten times a second, as Redis's active expiry cycle runs, the leader of each shard whose
/// soonest deadline has passed on its wall clock proposes an empty entry stamped with the time:
/// applying it moves every replica's clock, so the expired keys are gone for reads, DBSIZE and
/// WATCH at once, and purges them (`purgeBatch` per entry; the next round takes the rest).
extension ClusterNode {
    static let activeExpiryMillis: Int64 = 100

    func scheduleActiveExpiry(on loop: any EventLoop) {
        let pending = NIOLockedValueBox<Set<GroupID>>([])
        loop.scheduleRepeatedTask(initialDelay: .milliseconds(Self.activeExpiryMillis), delay: .milliseconds(Self.activeExpiryMillis)) { [self] _ in
            let now = wallClockMillis()
            for st in host.status() where st.role == .leader && st.group != Self.metaGroup {
                let group = st.group
                guard pending.withLockedValue({ $0.insert(group).inserted }) else { continue }
                host.read(group, on: KVShardMachine.self, local: true, { $0.store.nextDeadline }) { [self] result in
                    guard case .success(let deadline?) = result, deadline <= now else {
                        pending.withLockedValue { _ = $0.remove(group) }
                        return
                    }
                    let tick = KVRequest(timestampMillis: now, command: .noop)
                    host.propose(group, tick.encoded(), timeoutMillis: 2_000, returning: KVResult.self) { _ in
                        pending.withLockedValue { _ = $0.remove(group) }
                    }
                }
            }
        }
    }
}
