import MultiRaft

extension Simulation {
    /// The host loop of one node, as `RaftHost` runs it: for each replica, hand the writes to
    /// storage, send what need not wait for them, apply, advance; then run the checks that
    /// depend on what changed. The writes become durable at a later `.sync` event (the
    /// asynchronous WAL writer), which sends the messages that waited and reports durability.
    func process(_ node: SimNode) {
        for g in node.replicas.keys.sorted() {
            guard let rep = node.replicas[g], rep.alive else { continue }
            var rounds = 0
            while rep.core.hasReady && rounds < 8 && violation == nil {
                rounds += 1
                let rd = rep.core.ready()
                handleReady(rep, rd, node: node)
                rep.core.advance(rd)
                afterAdvance(rep)
            }
            if rep.alive && rep.core.hasReady { scheduleProcess(node) }
        }
        if !node.syncScheduled && node.replicas.values.contains(where: { !$0.unsynced.isEmpty }) {
            node.syncScheduled = true
            queue.schedule(.sync(node: node.index), at: now + 1 + random(6))
        }
    }

    /// The WAL writer's fdatasync returns: every replica's pending writes become durable in
    /// order, their messages go out and the cores learn what is durable.
    func sync(_ node: SimNode) {
        for g in node.replicas.keys.sorted() {
            guard let rep = node.replicas[g], rep.alive else { continue }
            flush(rep, node: node)
        }
        scheduleProcess(node)
    }

    func flush(_ rep: SimReplica, node: SimNode) {
        let writes = rep.unsynced
        rep.unsynced = []
        for w in writes {
            rep.storage.persist(w.records)
            shadowDurable(rep, w.entries)
        }
        guard let last = writes.last?.seq else { return }
        for round in rep.rounds.complete(through: last) { complete(round, rep, node: node) }
    }

    /// A round is durable: the core learns it, and the messages that waited for it go out.
    func complete(_ round: WriteRounds<Message>.Round, _ rep: SimReplica, node: SimNode) {
        for m in round.marks { rep.core.persisted(m.mark) }
        for m in round.waiting { send(m, group: groups[rep.group], fromNode: node.index) }
    }

    /// Updates the log-matching shadow of a replica's durable log with newly persisted entries.
    func shadowDurable(_ rep: SimReplica, _ ents: [Entry]) {
        // Entries at or below the durable snapshot are covered by it.
        let ents = ents.filter { $0.index > rep.storage.baseIndex }
        guard let first = ents.first?.index else { return }
        var st = rep.storage
        let keep = Int(first - st.baseIndex - 1)
        if keep < st.chains.count { st.chains.removeSubrange(keep...) }
        var prev = st.chain(at: first - 1) ?? 0
        for e in ents {
            let c = mixChain(prev, term: e.term, kind: e.kind, data: fingerprint(e.data))
            st.chains.append(c)
            prev = c
            if violation == nil, !groups.isEmpty {
                check(groups[rep.group].checker.observeDurable(index: e.index, term: e.term, chain: c, replica: rep.id))
            }
        }
        rep.storage = st
    }

    func handleReady(_ rep: SimReplica, _ rd: Ready, node: SimNode) {
        let group = groups[rep.group]
        let checker = group.checker
        if let soft = rd.softState, soft.role == .leader {
            stats.elections += 1
            check(checker.observeLeader(rep.id, term: rep.core.term))
            check(checker.checkLeaderCompleteness(rep.core))
            log("group \(rep.group): replica \(rep.id) on node \(node.index) leader of term \(rep.core.term)")
        }
        // 1. Persist. A received snapshot is written synchronously, after everything before it.
        let records = RecoveredGroup.records(for: SimStorage.group, ready: rd)
        if let snap = rd.snapshot {
            flush(rep, node: node)
            let meta = snap.metadata
            rep.storage.snapshot = snap
            rep.storage.chains = []
            rep.storage.baseIndex = meta.index
            rep.storage.baseChain = checker.chain(index: meta.index, term: meta.term) ?? mixChain(0, term: meta.term, kind: .normal, data: meta.index.rawValue)
        }
        var write: UInt64?
        if !records.isEmpty {
            rep.writes += 1
            rep.unsynced.append(UnsyncedWrite(seq: rep.writes, records: records, entries: rd.entries))
            write = rep.writes
        }
        // 2. Send, by the core's rule and the host's bookkeeping: `messages` now,
        // `messagesAfterWrite` once the writes before them are durable.
        for m in rd.messages { send(m, group: group, fromNode: node.index) }
        var round = WriteRounds<Message>.Round()
        round.collect(rd, group: GroupID(rep.group), replica: rep.id) { $0 }
        if let now = rep.rounds.enqueue(round, write: write) { complete(now, rep, node: node) }
        if rd.snapshot != nil { flush(rep, node: node) }
        // 3. Apply.
        if let snap = rd.snapshot {
            guard let kv = SimKV.restore(snap.data, index: snap.metadata.index) else {
                fail("snapshot integrity", "replica \(rep.id) received an undecodable snapshot")
                return
            }
            for (key, value) in kv.values {
                if case .some(let expected) = checker.value(of: key, at: snap.metadata.index), expected != value {
                    fail("snapshot integrity", "replica \(rep.id) installed a snapshot at \(snap.metadata.index) with key \(key) = \(value), expected \(expected.map(String.init) ?? "unset")")
                }
            }
            rep.kv = kv
            stats.snapshotsInstalled += 1
        }
        for e in rd.committedEntries {
            check(checker.observeCommitted(e, by: rep.id, how: "applied", observerTerm: rep.core.term))
            if e.kind == .confChange && rep.core.role == .leader { stats.confChangesApplied += 1 }
            if let w = rep.kv.apply(e), let p = pendingWrites[w.op], p.group == rep.group, p.replica == rep.id {
                pendingWrites[w.op] = nil
                ackedWrites.append((rep.group, w.op, e.index))
                stats.writesAcked += 1
            }
        }
        // 4. Reads released by the leader.
        for rs in rd.readStates {
            var r = BinaryReader(rs.context)
            if let op = try? r.readUInt64(), rep.reads[op] != nil { rep.reads[op]!.readIndex = rs.index }
        }
    }

    func afterAdvance(_ rep: SimReplica) {
        guard rep.alive else { return }
        let group = groups[rep.group]
        let checker = group.checker
        // Every index this replica now knows committed must agree with the reference.
        if rep.core.commitIndex > rep.lastSeenCommit {
            let lo = max(rep.lastSeenCommit + 1, rep.core.firstIndex)
            if lo <= rep.core.commitIndex {
                for e in rep.core.entries(from: lo, through: rep.core.commitIndex) {
                    check(checker.observeCommitted(e, by: rep.id, how: "committed", observerTerm: rep.core.term))
                }
            }
            checker.noteCommitIndex(rep.core.commitIndex)
            rep.lastSeenCommit = rep.core.commitIndex
        }
        serveReads(rep)
        // Replicas removed from the configuration are destroyed a little later.
        for id in rep.core.configuration.retired where group.nodeOf[id] != nil {
            queue.schedule(.destroy(group: rep.group, replica: id), at: now + random(200))
        }
        // Compaction: snapshot the state machine when the log grows long, never ahead of the
        // durable log (as the host does).
        if rep.core.appliedIndex >= rep.core.firstIndex + UInt64(compactAfter), rep.core.appliedIndex <= rep.core.persistedIndex {
            let snap = rep.core.createSnapshot(data: rep.kv.snapshotData())
            let through: LogIndex = snap.metadata.index > LogIndex(keepTrailing) ? snap.metadata.index - keepTrailing : 0
            rep.core.compact(through: through)
            rep.storage.snapshot = snap
            try! rep.storage.log.compact(group: SimStorage.group, through: through)
            let drop = Int(min(through, rep.storage.baseIndex + UInt64(rep.storage.chains.count)) - min(through, rep.storage.baseIndex))
            if drop > 0 {
                rep.storage.baseChain = rep.storage.chains[drop - 1]
                rep.storage.chains.removeFirst(drop)
                rep.storage.baseIndex += UInt64(drop)
            }
            stats.compactions += 1
        }
    }

    func serveReads(_ rep: SimReplica) {
        guard !rep.reads.isEmpty else { return }
        let checker = groups[rep.group].checker
        for (op, r) in rep.reads.sorted(by: { $0.key < $1.key }) {
            guard let ri = r.readIndex, rep.kv.applied >= ri else { continue }
            rep.reads[op] = nil
            stats.readsChecked += 1
            let at = rep.kv.applied
            if at < r.committedAtStart {
                fail("linearizable read", "read \(op) of key \(r.key) at replica \(rep.id) (group \(rep.group)) returned the state at index \(at) (read index \(ri)), but index \(r.committedAtStart) was committed before the read began")
                return
            }
            if case .some(let expected) = checker.value(of: r.key, at: at), expected != rep.kv.values[r.key] {
                fail("linearizable read", "read \(op) of key \(r.key) at replica \(rep.id) returned \(String(describing: rep.kv.values[r.key])), committed value at \(at) is \(String(describing: expected))")
                return
            }
        }
    }

    func send(_ m: Message, group: SimGroup, fromNode: Int) {
        guard let to = group.nodeOf[m.to] else { return }
        if blocked[fromNode][to] || chance(dropRate) {
            stats.messagesDropped += 1
            return
        }
        let copies = chance(duplicateRate) ? 2 : 1
        for _ in 0..<copies {
            // Mostly short delays; a few long ones reorder messages.
            let delay = chance(0.05) ? 1 + random(maxDelay * 10) : 1 + random(maxDelay)
            queue.schedule(.deliver(node: to, group: group.index, message: m), at: now + delay)
        }
    }
}
