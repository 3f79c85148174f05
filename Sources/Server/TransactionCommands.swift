import KVStore
import NIOCore
import ShardRouter

/// MULTI, EXEC, DISCARD, WATCH and UNWATCH on one connection, with Redis 7.2's replies and
/// errors. Pure: the session in, replies and what to send out; the channel handler runs the
/// routed parts (WATCH's read and the block itself, as one `MYSTORE.TXN`).
///
/// A block is atomic because all its key commands share one slot and become one Raft entry
/// of that slot's shard (`KVCommand.transaction`); the WATCH check is made inside that entry.
/// As in Redis Cluster, keys of different slots are refused (CROSSSLOT) while queueing, which
/// makes EXEC abort. Commands that span shards (FLUSHALL, SCAN, DBSIZE, ...) cannot be queued.
enum TransactionCommands {
    /// Commands run at once even inside MULTI, as Redis runs them.
    static let runAtOnce: Set<String> = ["EXEC", "DISCARD", "MULTI", "WATCH", "QUIT", "RESET"]

    static let execAbort = RESPValue.error("EXECABORT Transaction discarded because of previous errors.")
    static let crossSlot = ErrorReply("CROSSSLOT Keys in request don't hash to the same slot")

    /// The slot shared by `keys`, or nil for none; `.failure` when they differ from each other
    /// or from `slot`.
    static func slot(of keys: [[UInt8]], joining slot: Slot?) -> Result<Slot?, ErrorReply> {
        var shared = slot
        for key in keys {
            let s = Slot(forKey: key)
            if let shared, shared != s { return .failure(crossSlot) }
            shared = s
        }
        return .success(shared)
    }

    /// Inside MULTI: queues `command` (already known, with the right arity) and replies
    /// QUEUED, or refuses it and marks the block to abort.
    static func queue(_ command: RESPCommand, spec: CommandSpec, session: inout ClientSession) -> RESPValue {
        guard var block = session.transaction else { return .error("ERR not inside MULTI") }
        defer { session.transaction = block }
        if spec.scope == .routed && !CommandParser.names.contains(spec.name) {
            block.aborted = true
            return .error("ERR '\(spec.name.lowercased())' cannot run inside MULTI: MyStore runs a transaction within one slot's shard")
        }
        let keys = spec.keyPositions(argumentCount: command.parts.count).map { Array(command.parts[$0].readableBytesView) }
        switch slot(of: keys, joining: block.slot) {
        case .failure(let error):
            block.aborted = true
            return error.value
        case .success(let s):
            block.slot = s
        }
        block.commands.append(command)
        return .simpleString("QUEUED")
    }

    /// MULTI, DISCARD and UNWATCH, which only change the session.
    static func reply(to name: String, session: inout ClientSession) -> RESPValue? {
        switch name {
        case "MULTI":
            guard session.transaction == nil else { return .error("ERR MULTI calls can not be nested") }
            let watchedSlot = session.watched.first.map { Slot(forKey: $0.key) }
            session.transaction = QueuedTransaction(slot: watchedSlot)
            return .ok
        case "DISCARD":
            guard session.transaction != nil else { return .error("ERR DISCARD without MULTI") }
            session.transaction = nil
            session.watched = []
            return .ok
        case "UNWATCH":
            session.watched = []
            return .ok
        default:
            return nil
        }
    }

    /// WATCH outside MULTI: the keys must share a slot, and with the keys already watched.
    /// Returns the arguments to route (the fingerprint read), or the reply.
    static func watch(_ command: RESPCommand, session: ClientSession) -> Result<[[UInt8]], ErrorReply> {
        guard session.transaction == nil else { return .failure(ErrorReply("ERR WATCH inside MULTI is not allowed")) }
        let keys = command.arguments.map { Array($0.readableBytesView) }
        if case .failure(let error) = slot(of: keys + session.watched.map(\.key), joining: nil) { return .failure(error) }
        return .success([Array("WATCH".utf8)] + keys)
    }

    /// Records WATCH's routed reply (each key's fingerprint); the client gets OK, or the error.
    static func watched(_ keys: [[UInt8]], reply: RESPValue, session: inout ClientSession) -> RESPValue {
        guard case .array(let items) = reply.parsedIfRaw, items.count == keys.count else {
            if case .error = reply.parsedIfRaw { return reply }
            return .error("ERR WATCH got an unexpected reply from the shard")
        }
        var added: [WatchedKey] = []
        for (key, item) in zip(keys, items) {
            guard case .bulkString(let bytes) = item, let fingerprint = KeyFingerprint(encoded: Array(bytes.readableBytesView)) else {
                return .error("ERR WATCH got a malformed fingerprint from the shard")
            }
            added.append(WatchedKey(key: key, fingerprint: fingerprint))
        }
        // A key watched again keeps its first fingerprint: a change since then still counts.
        for w in added where !session.watched.contains(where: { $0.key == w.key }) { session.watched.append(w) }
        return .ok
    }

    /// What EXEC does.
    enum ExecPlan {
        /// Reply at once (EXEC without MULTI, EXECABORT).
        case reply(RESPValue)
        /// Route `arguments` (a `MYSTORE.TXN`); then `assemble` the reply with `local`.
        case routed(arguments: [[UInt8]], local: [(position: Int, command: RESPCommand)], total: Int)
        /// No keys and nothing watched: only the connection's own commands, run in order.
        case localOnly([RESPCommand])
    }

    /// EXEC: ends the block (and the watches) and says how to run it.
    static func exec(session: inout ClientSession) -> ExecPlan {
        guard let block = session.transaction else { return .reply(.error("ERR EXEC without MULTI")) }
        let watches = session.watched
        session.transaction = nil
        session.watched = []
        if block.aborted { return .reply(execAbort) }
        var routed: [[[UInt8]]] = []
        var local: [(Int, RESPCommand)] = []
        for (position, command) in block.commands.enumerated() {
            if CommandTable.spec(named: command.name)?.scope == .routed {
                routed.append(command.parts.map { Array($0.readableBytesView) })
            } else {
                local.append((position, command))
            }
        }
        if routed.isEmpty && watches.isEmpty { return .localOnly(block.commands) }
        return .routed(arguments: Transaction.arguments(watching: watches, commands: routed), local: local, total: block.commands.count)
    }

    /// EXEC's reply: the routed block's results with the local commands' replies in their
    /// places; the nil array when a watched key changed (nothing ran); the routed error when
    /// the block could not run.
    static func assemble(routed reply: RESPValue, local: [(position: Int, command: RESPCommand)], total: Int,
                         run: (RESPCommand) -> RESPValue) -> RESPValue {
        let parsed = reply.parsedIfRaw
        switch parsed {
        case .nullArray, .null:
            return .nullArray
        case .array(let results) where results.count + local.count == total:
            var out: [RESPValue] = []
            out.reserveCapacity(total)
            var next = results.makeIterator()
            var locals = local.makeIterator()
            var pending = locals.next()
            for position in 0..<total {
                if let p = pending, p.position == position {
                    out.append(run(p.command))
                    pending = locals.next()
                } else if let r = next.next() {
                    out.append(r)
                }
            }
            return .array(out)
        default:
            return parsed
        }
    }
}
