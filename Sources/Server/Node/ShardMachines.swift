import KVStore
import MultiRaft
import ShardRouter

/// A shard's key-value state machine, plugged into the Raft host.
final class KVShardMachine: GroupStateMachine {
    let store: KVStateMachine

    init(settings: KVSettings) { store = KVStateMachine(settings: settings) }

    func apply(index: LogIndex, data: [UInt8]) -> any Sendable { store.apply(index: index, data: data) }
    func writeSnapshot(to sink: ([UInt8]) throws -> Void) throws { try store.writeSnapshot(to: sink) }
    func restore(from source: () throws -> [UInt8]?) throws { try store.restore(from: source) }

    var writesSnapshotsConcurrently: Bool { true }

    func concurrentSnapshotWriter() -> SnapshotBody? {
        let frozen = UncheckedBox(store.frozenCopy())
        return { sink in try frozen.value.writeSnapshot(to: sink) }
    }
}
