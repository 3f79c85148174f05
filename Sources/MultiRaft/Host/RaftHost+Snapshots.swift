import Logging
extension RaftHost {
    /// Takes a snapshot when enough entries (or bytes of entries) were applied since the last
    /// one: the state machine streams into a snapshot file, then the core and the WAL drop
    /// what it covers.
    func maybeSnapshot(_ g: HostedGroup) {
        let w = g.core.watermarks()
        let applied = w.applied
        guard !g.snapshotWriting, applied > g.lastSnapshotIndex, snapshotDue(g, applied: applied) else { return }
        // Committed entries are applied before this node's own copy is durable; a snapshot
        // never runs ahead of the durable log (it waits for a later round), so what a restart
        // finds on disk is always a snapshot plus the log that follows it.
        guard applied <= w.persisted else { return }
        let meta = SnapshotMetadata(index: applied, term: g.core.term(at: applied) ?? 0, configuration: g.core.configuration)
        if g.stateMachine.writesSnapshotsConcurrently {
            // One such snapshot written at a time per node: groups that fill up together (every
            // shard takes an even share of the writes) take turns instead of each starting a
            // thread and a copy of its state in the same moment. A group turned away asks again
            // on its next Ready, and the slot, once free, goes round the groups in id order
            // (`snapshotWritten`). A log past `snapshotLogBytes` does not wait its turn.
            guard snapshotWrites < settings.maxSnapshotWrites || g.bytesSinceSnapshot >= settings.snapshotLogBytes else { return }
        }
        if let body = g.stateMachine.concurrentSnapshotWriter() {
            // Written on a thread of its own from a frozen view, so a large state never stalls
            // the other groups' ticks, heartbeats and writes.
            g.snapshotWriting = true
            snapshotWrites += 1
            let directory = snapshotDirectory, gid = g.id, replica = g.core.id, level = settings.snapshotCompressionLevel
            let nice = settings.snapshotThreadNice
            let started = detachThread(name: "snapshot-write") { [weak self] in
                lowerThreadPriority(nice)
                var failure: String?
                var stateBytes: UInt64 = 0
                do {
                    let w = try SnapshotWriter(directory: directory, group: gid, metadata: meta, compressionLevel: level)
                    do {
                        try body { bytes in try w.write(bytes) }
                        try w.finish()
                        stateBytes = UInt64(w.rawBytes)
                    } catch {
                        w.abort()
                        throw error
                    }
                } catch {
                    failure = "\(error)"
                }
                let outcome = failure, written = stateBytes
                self?.call { host in host.snapshotWritten(gid, replica: replica, meta, stateBytes: written, failure: outcome) }
            }
            if !started {
                g.snapshotWriting = false
                snapshotWrites -= 1
                log(.warning, gid, "snapshot of group \(gid) at \(meta.index) not started: cannot create a thread")
            }
            return
        }
        do {
            let w = try SnapshotWriter(directory: snapshotDirectory, group: g.id, metadata: meta, compressionLevel: settings.snapshotCompressionLevel)
            do {
                try g.stateMachine.writeSnapshot { bytes in try w.write(bytes) }
                try w.finish()
                recordSnapshotSize(g, stateBytes: UInt64(w.rawBytes))
            } catch {
                w.abort()
                throw error
            }
            _ = g.core.createSnapshot(data: [])
            let through = applied > LogIndex(settings.keepTrailingEntries) ? applied - settings.keepTrailingEntries : 0
            g.core.compact(through: through)
            lazyRecords.append(.compacted(group: g.id, through: through))
            g.lastSnapshotIndex = applied
            g.bytesSinceSnapshot = 0
            try removeSnapshots(of: g.id, olderThan: applied)
        } catch {
            log(.warning, g.id, "snapshot of group \(g.id) at \(applied) failed: \(error)")
        }
    }

    /// A snapshot written off the host's thread is done: the core may send it and the log
    /// and WAL drop what it covers (unless a newer snapshot arrived meanwhile).
    func snapshotWritten(_ gid: GroupID, replica: ReplicaID, _ meta: SnapshotMetadata, stateBytes: UInt64, failure: String?) {
        snapshotWrites -= 1
        defer { offerSnapshotSlot(after: gid) }
        let path = snapshots.snapshot(group: gid, index: meta.index)
        guard let g = groups[gid], g.core.id == replica else {
            try? FileSystem.remove(path)
            return
        }
        g.snapshotWriting = false
        if let failure {
            log(.warning, gid, "snapshot of group \(gid) at \(meta.index) failed: \(failure)")
            return
        }
        guard meta.index > g.lastSnapshotIndex else {
            try? FileSystem.remove(path)
            return
        }
        do {
            g.core.recordSnapshot(meta)
            let through = meta.index > LogIndex(settings.keepTrailingEntries) ? meta.index - settings.keepTrailingEntries : 0
            g.core.compact(through: through)
            lazyRecords.append(.compacted(group: gid, through: through))
            g.lastSnapshotIndex = meta.index
            recordSnapshotSize(g, stateBytes: stateBytes)
            g.bytesSinceSnapshot = 0
            try removeSnapshots(of: gid, olderThan: meta.index)
        } catch {
            log(.warning, gid, "compaction of group \(gid) at \(meta.index) failed: \(error)")
        }
    }

    /// A snapshot of `g` holding `stateBytes` of state is written: the size the next one's
    /// trigger scales with, and the counters in `/metrics`.
    func recordSnapshotSize(_ g: HostedGroup, stateBytes: UInt64) {
        g.lastSnapshotStateBytes = stateBytes
        activity.snapshotsWritten += 1
        activity.snapshotBytesWritten += stateBytes
    }

    /// A snapshot slot just freed goes to the next group due for one after `gid` in id order,
    /// so that under steady load the groups with low ids do not take every turn.
    func offerSnapshotSlot(after gid: GroupID) {
        let ids = groups.keys.sorted()
        let start = ids.firstIndex { $0 > gid } ?? 0
        for k in 0..<ids.count where snapshotWrites < settings.maxSnapshotWrites {
            if let g = groups[ids[(start + k) % ids.count]] { maybeSnapshot(g) }
        }
    }

    /// Whether the entries applied since the last snapshot call for a new one: the byte bound,
    /// or the entry count once the entries also amount to `snapshotLogStatePercent` of the
    /// last snapshot's state (see `HostSettings`).
    func snapshotDue(_ g: HostedGroup, applied: LogIndex) -> Bool {
        if g.bytesSinceSnapshot >= settings.snapshotLogBytes { return true }
        // Each group's thresholds are stretched by its own 0-31%, so groups taking the same
        // writes drift apart instead of snapshotting in step, cycle after cycle.
        let stretch: UInt64 = 100 + (g.id &* 0x9E37_79B9_7F4A_7C15) >> 59
        guard applied >= g.lastSnapshotIndex + settings.snapshotEntries * stretch / 100 else { return false }
        let (scaled, overflow) = g.lastSnapshotStateBytes.multipliedReportingOverflow(by: settings.snapshotLogStatePercent * stretch / 100)
        return !overflow && g.bytesSinceSnapshot >= scaled / 100
    }

    func removeSnapshots(of group: GroupID, olderThan index: LogIndex) throws(StorageError) {
        try snapshots.removeSnapshots(of: group, olderThan: index)
    }

    /// Writes a received snapshot file durably and verifies every chunk before the core may
    /// act on it. Returns false (message dropped) when it is damaged.
    func acceptSnapshotFile(_ g: HostedGroup, _ m: Message) -> Bool {
        guard let snap = m.snapshot, !snap.data.isEmpty else { return false }
        let path = snapshots.snapshot(group: g.id, index: snap.metadata.index)
        do {
            try FileSystem.makeDirectory(snapshotDirectory)
            let tmp = snapshots.receiving(path)
            let f = try DurableFile(path: tmp, mode: .truncateCreate)
            try f.append(snap.data)
            try f.sync()
            let reader = try SnapshotReader(path: tmp)
            guard reader.group == g.id, reader.metadata == snap.metadata else {
                try FileSystem.remove(tmp)
                log(.warning, g.id, "snapshot for group \(g.id) does not match its header; dropped")
                return false
            }
            while try reader.nextChunk() != nil {}
            try FileSystem.rename(tmp, path)
            try FileSystem.syncDirectory(snapshotDirectory)
            log(.info, g.id, "received a snapshot of group \(g.id) at index \(snap.metadata.index)",
                ["bytes": .stringConvertible(snap.data.count), "index": .stringConvertible(snap.metadata.index.rawValue)])
            return true
        } catch {
            log(.warning, g.id, "received snapshot for group \(g.id) rejected: \(error)")
            return false
        }
    }

    /// Replaces the state machine with a received snapshot (its file is already verified).
    func installSnapshot(_ g: HostedGroup, _ snap: Snapshot) {
        let path = snapshots.snapshot(group: g.id, index: snap.metadata.index)
        do {
            let reader = try SnapshotReader(path: path)
            try g.stateMachine.restore(from: { () throws(StorageError) -> [UInt8]? in try reader.nextChunk() })
            g.lastSnapshotIndex = snap.metadata.index
            g.bytesSinceSnapshot = 0
            try removeSnapshots(of: g.id, olderThan: snap.metadata.index)
        } catch {
            settings.onFatal("cannot install snapshot \(path): \(error)")
        }
    }
}
