import Logging
extension RaftHost {
    /// Creates the replica a leader's message is addressed to, when this node does not host
    /// the group yet: a replica being added (as a learner) to the group. Only messages that a
    /// leader sends (appends, heartbeats, snapshots) to an id of this node and newer than any
    /// replica of the group destroyed here can create one.
    func createGroup(_ gid: GroupID, for m: Message) -> HostedGroup? {
        guard m.term > 0, m.kind == .append || m.kind == .heartbeat || m.kind == .snapshot,
              ReplicaIDs.node(of: m.to) == node else { return nil }
        if let t = tombstones[gid], m.to <= t { return nil }
        guard let stateMachine = groupFactory?(gid) else { return nil }
        do {
            // The replica id is durable before anything of the group reaches the WAL, so a
            // restart recovers the replica under the same id.
            try FileSystem.makeDirectory(snapshotDirectory)
            try FileSystem.writeDurably(Array("\(m.to)\n".utf8), to: replicaFile(gid))
            try addGroup(gid, replica: m.to, stateMachine: stateMachine, nodeOf: [:], bootstrapVoters: [])
        } catch {
            log(.warning, gid, "cannot create replica \(m.to) of group \(gid): \(error)")
            return nil
        }
        let g = groups[gid]!
        publishStatus(g)
        log(.info, gid, "created replica \(m.to) of group \(gid), contacted by replica \(m.from) of term \(m.term)")
        return g
    }

    /// Removes this node's replica of a group: pending requests fail, the WAL records the
    /// removal, the group's snapshot files go, and messages to the old replica id are ignored.
    /// Destroys this node's replica `replica` of `group` if it still knows no leader (the
    /// caller established that the group no longer counts it as a member).
    public func collectRemovedReplica(_ group: GroupID, replica: ReplicaID, reason: String) {
        call { host in
            guard let g = host.groups[group], g.core.id == replica, g.core.leader == 0, g.core.role != .leader else { return }
            host.destroy(g, reason: reason)
        }
    }

    func destroy(_ g: HostedGroup, reason: String) {
        for (_, p) in g.proposals { p.completion(.failure(.outcomeUnknown("replica removed from the group"))) }
        for (_, r) in g.reads { r.completion(.failure(.notLeader(nil))) }
        g.proposals = [:]
        g.reads = [:]
        // Durable before anything else happens to the group here: a replica created for it
        // later must not recover this one's log.
        let seq = writer.submit(takeLazyRecords() + [.removed(group: g.id)])
        writer.wait(for: seq)
        completeRounds(through: seq)
        try? removeSnapshots(of: g.id, olderThan: .max)
        try? FileSystem.remove(replicaFile(g.id))
        tombstones[g.id] = g.core.id
        groups[g.id] = nil
        forgetStatus(g.id)
        log(.info, g.id, "replica \(g.core.id) of group \(g.id) destroyed: \(reason)")
    }

    /// Streams the snapshot file a snapshot message refers to. One transfer per follower at a
    /// time and `maxSnapshotSends` per node; a message beyond that is dropped and the leader
    /// retries after its probe interval.
    func sendSnapshot(_ g: HostedGroup, _ m: Message, to dest: NodeID) {
        guard let snap = m.snapshot else { return }
        guard snap.data.isEmpty else { return send([(group: g.id, message: m)], to: dest) }
        guard !g.snapshotsSending.contains(m.to), snapshotSends < settings.maxSnapshotSends else { return }
        let path = snapshots.snapshot(group: g.id, index: snap.metadata.index)
        g.snapshotsSending.insert(m.to)
        snapshotSends += 1
        let gid = g.id, to = m.to, index = snap.metadata.index
        transport.sendSnapshot(group: g.id, message: m, file: path, to: dest) { [weak self] ok in
            self?.call { host in
                host.snapshotSends -= 1
                guard let g = host.groups[gid] else { return }
                g.snapshotsSending.remove(to)
                g.core.reportSnapshot(to: to, success: ok)
                if ok {
                    host.log(.info, gid, "sent the snapshot of group \(gid) at index \(index) to replica \(to)",
                             ["bytes": .stringConvertible(FileSystem.size(of: path) ?? 0), "index": .stringConvertible(index.rawValue)])
                } else {
                    host.log(.warning, gid, "snapshot of group \(gid) to replica \(to) failed; the leader retries")
                }
            }
        }
    }

    /// Moves a streamed, verified snapshot file into place once its header matches the
    /// message. Returns false (message dropped) otherwise.
    func installReceivedFile(_ g: HostedGroup, _ m: Message, _ file: String) -> Bool {
        guard let snap = m.snapshot else { return false }
        do {
            let reader = try SnapshotReader(path: file)
            guard reader.group == g.id, reader.metadata == snap.metadata else {
                log(.warning, g.id, "streamed snapshot for group \(g.id) does not match its message; dropped")
                return false
            }
            let path = snapshots.snapshot(group: g.id, index: snap.metadata.index)
            try FileSystem.rename(file, path)
            try FileSystem.syncDirectory(snapshotDirectory)
            log(.info, g.id, "received a snapshot of group \(g.id) at index \(snap.metadata.index)",
                ["bytes": .stringConvertible(FileSystem.size(of: path) ?? 0), "index": .stringConvertible(snap.metadata.index.rawValue)])
            return true
        } catch {
            log(.warning, g.id, "streamed snapshot for group \(g.id) rejected: \(error)")
            return false
        }
    }

    /// The leader's view of a group's replicas: match index and whether each was heard from
    /// recently. Completes with nil when this node does not lead the group.
    public func replicaProgress(_ group: GroupID, completion: @escaping @Sendable (ReplicaProgress?) -> Void) {
        call { host in
            guard let g = host.groups[group], g.core.role == .leader else { return completion(nil) }
            let c = g.core
            var match: [ReplicaID: LogIndex] = [:]
            var active: Set<ReplicaID> = [c.id]
            for r in c.configuration.members {
                match[r] = r == c.id ? c.lastIndex : c.matchIndex(of: r) ?? 0
                if c.isRecentlyActive(r) { active.insert(r) }
            }
            completion(ReplicaProgress(leader: c.id, term: c.term, lastIndex: c.lastIndex, commitIndex: c.commitIndex,
                                       voters: c.configuration.voters.union(c.configuration.outgoing).sorted(),
                                       learners: c.configuration.learners.union(c.configuration.learnersNext).sorted(),
                                       isJoint: c.configuration.isJoint, match: match, active: active,
                                       snapshotting: g.snapshotsSending))
        }
    }
}

/// A group's replication state as its leader sees it.
public struct ReplicaProgress: Sendable {
    public var leader: ReplicaID
    public var term: Term
    public var lastIndex: LogIndex
    public var commitIndex: LogIndex
    public var voters: [ReplicaID]
    public var learners: [ReplicaID]
    public var isJoint: Bool
    public var match: [ReplicaID: LogIndex]
    public var active: Set<ReplicaID>
    public var snapshotting: Set<ReplicaID>

    public init(leader: ReplicaID, term: Term, lastIndex: LogIndex, commitIndex: LogIndex, voters: [ReplicaID], learners: [ReplicaID],
                isJoint: Bool, match: [ReplicaID: LogIndex], active: Set<ReplicaID>, snapshotting: Set<ReplicaID>) {
        self.leader = leader
        self.term = term
        self.lastIndex = lastIndex
        self.commitIndex = commitIndex
        self.voters = voters
        self.learners = learners
        self.isJoint = isJoint
        self.match = match
        self.active = active
        self.snapshotting = snapshotting
    }
}
