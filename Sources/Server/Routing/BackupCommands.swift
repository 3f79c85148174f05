import MultiRaft
import NIOCore
import ShardRouter

/// `MYSTORE.BACKUP`, the server side of `mystore backup` (an admin command, listed in
/// `CommandRouter.adminNames`):
///
/// - `MAP`: run on the meta group's leader after a ReadIndex round: `[meta index, shard*]`,
///   each shard `[id, first slot, last slot, ...]`: the shard map at one meta index.
/// - `BEGIN shard`: run on the shard's leader (forwarded there). A ReadIndex round confirms
///   leadership after the request arrived, the read waits until the replica applied that
///   index, and the state is frozen (copy-on-write) at exactly the index applied then:
///   `[session id, applied index, this node's address]`.
/// - `NEXT id`: on the node that answered BEGIN: the next compressed pieces of the shard's
///   snapshot stream (bounded, a few MiB at most), `$-1` at the end.
/// - `END id`: drops the session.
extension CommandRouter {
    func backup(_ args: [[UInt8]], hops: UInt8, deadline: Double, reply: @escaping Reply) {
        let a = args.dropFirst().map { String(decoding: $0, as: UTF8.self) }
        let usage = RESPValue.error("ERR usage: MYSTORE.BACKUP MAP | BEGIN <shard> | NEXT <session> | END <session>")
        guard let sub = a.first?.uppercased() else { return reply(usage) }
        switch (sub, a.count) {
        case ("MAP", 1):
            onLeader(of: ClusterNode.metaGroup, args: args, hops: hops, deadline: deadline, reply: reply) { [node] done in
                node.host.readAtApplied(ClusterNode.metaGroup, on: MetaMachine.self, { m, index in (m.state.map, index) }) { result in
                    switch result {
                    case .success(let (map, index)):
                        done(.array([.integer(Int64(index.rawValue))] + map.shards.map { s in
                            .array([.integer(Int64(s.id.rawValue))] + s.slotRanges.flatMap { [.integer(Int64($0.first.rawValue)), .integer(Int64($0.last.rawValue))] })
                        }))
                    case .failure(let e): done(.error("TRYAGAIN cannot read the shard map: \(e); retry"))
                    }
                }
            }
        case ("BEGIN", 2):
            guard let id = Int(a[1]), let shard = node.shardMap.shard(id: ShardID(rawValue: id)) else { return reply(.error("ERR no such shard")) }
            let group = ClusterNode.group(of: shard.id)
            onLeader(of: group, args: args, hops: hops, deadline: deadline, reply: reply) { [node] done in
                node.host.readAtApplied(group, on: KVShardMachine.self, { sm, index in UncheckedBox((sm.concurrentSnapshotWriter(), index)) }) { result in
                    switch result {
                    case .success(let box):
                        guard let body = box.value.0 else { return done(.error("ERR shard \(id) cannot be frozen")) }
                        guard let session = node.backups.begin(group: group, index: box.value.1, body: body) else {
                            return done(.error("TRYAGAIN too many backups in progress on this node; retry"))
                        }
                        done(.array([.integer(Int64(session.id)), .integer(Int64(session.index.rawValue)), .bulk(node.plan.selfAddress.description)]))
                    case .failure(let e):
                        done(.error("TRYAGAIN shard \(id) could not confirm its leader: \(e); retry"))
                    }
                }
            }
        case ("NEXT", 2):
            guard let id = UInt64(a[1]), let session = node.backups.session(id) else { return reply(.error("ERR no such backup session")) }
            session.next(reply: reply)
        case ("END", 2):
            guard let id = UInt64(a[1]) else { return reply(usage) }
            node.backups.end(id)
            reply(.ok)
        default:
            reply(usage)
        }
    }
}
