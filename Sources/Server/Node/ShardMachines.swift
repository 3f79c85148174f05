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
}

/// The meta group's state machine: the shard map (shards, slot ranges, replicas, epochs).
/// Every node derives the same initial map from the membership and config; changes (moves,
/// rebalancing) are entries of this group.
final class MetaMachine: GroupStateMachine {
    private(set) var map: ShardMap

    init(initial: ShardMap) { map = initial }

    /// Commands: 1 = replace one shard's replicas (bumping its epoch).
    func apply(index: LogIndex, data: [UInt8]) -> any Sendable {
        var r = BinaryReader(data)
        guard let kind = try? r.readUInt8() else { return KVResult.error("ERR empty meta command") }
        switch kind {
        case 1:
            guard let id = try? r.readUInt64(), let n = try? r.readUInt32(), n <= 1_000 else { return KVResult.error("ERR malformed meta command") }
            var replicas: [NodeAddress] = []
            for _ in 0..<n {
                guard let text = try? r.readBlob(limit: 300), let a = try? NodeAddress(parsing: String(decoding: text, as: UTF8.self)) else {
                    return KVResult.error("ERR malformed node address")
                }
                replicas.append(a)
            }
            var shards = map.shards
            guard let k = shards.firstIndex(where: { $0.id.rawValue == Int(id) }) else { return KVResult.error("ERR no such shard") }
            shards[k].replicas = replicas
            shards[k].epoch += 1
            if let m = try? ShardMap(shards: shards) { map = m }
            return KVResult.ok
        default:
            return KVResult.error("ERR unknown meta command \(kind)")
        }
    }

    func writeSnapshot(to sink: ([UInt8]) throws -> Void) throws {
        var w = BinaryWriter()
        w.write(UInt32(map.shards.count))
        for s in map.shards {
            w.write(UInt64(s.id.rawValue))
            w.write(s.epoch)
            w.write(UInt32(s.slotRanges.count))
            for r in s.slotRanges {
                w.write(UInt32(r.first.rawValue))
                w.write(UInt32(r.last.rawValue))
            }
            w.write(UInt32(s.replicas.count))
            for a in s.replicas { w.writeBlob(Array(a.description.utf8)) }
        }
        try sink(w.bytes)
    }

    func restore(from source: () throws -> [UInt8]?) throws {
        var all: [UInt8] = []
        while let c = try source() { all += c }
        var r = BinaryReader(all)
        var shards: [Shard] = []
        for _ in 0..<(try r.readUInt32()) {
            let id = Int(try r.readUInt64()), epoch = try r.readUInt64()
            var ranges: [SlotRange] = []
            for _ in 0..<(try r.readUInt32()) {
                guard let range = SlotRange(Int(try r.readUInt32()), Int(try r.readUInt32())) else {
                    throw DecodeError("meta snapshot: bad slot range")
                }
                ranges.append(range)
            }
            var replicas: [NodeAddress] = []
            for _ in 0..<(try r.readUInt32()) {
                replicas.append(try NodeAddress(parsing: String(decoding: try r.readBlob(limit: 300), as: UTF8.self)))
            }
            shards.append(Shard(id: ShardID(rawValue: id), slotRanges: ranges, replicas: replicas, epoch: epoch))
        }
        map = try ShardMap(shards: shards)
    }
}
