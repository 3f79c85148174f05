extension RaftHost {
    /// Takes a snapshot when enough entries (or bytes of entries) were applied since the last
    /// one: the state machine streams into a snapshot file, then the core and the WAL drop
    /// what it covers.
    func maybeSnapshot(_ g: HostedGroup) {
        let applied = g.core.appliedIndex
        guard applied > g.lastSnapshotIndex,
              applied >= g.lastSnapshotIndex + settings.snapshotEntries || g.bytesSinceSnapshot >= settings.snapshotLogBytes else { return }
        let meta = SnapshotMetadata(index: applied, term: g.core.term(at: applied) ?? 0, configuration: g.core.configuration)
        do {
            let w = try SnapshotWriter(directory: snapshotDirectory, group: g.id, metadata: meta)
            do {
                try g.stateMachine.writeSnapshot { bytes in try w.write(bytes) }
                try w.finish()
            } catch {
                w.abort()
                throw error
            }
            _ = g.core.createSnapshot(data: [])
            let through = applied > settings.keepTrailingEntries ? applied - settings.keepTrailingEntries : 0
            g.core.compact(through: through)
            try wal.compact(group: g.id, through: through)
            g.lastSnapshotIndex = applied
            g.bytesSinceSnapshot = 0
            try removeSnapshots(of: g.id, olderThan: applied)
        } catch {
            note("snapshot of group \(g.id) at \(applied) failed: \(error)")
        }
    }

    func removeSnapshots(of group: GroupID, olderThan index: LogIndex) throws(StorageError) {
        let keep = SnapshotFormat.fileName(group: group, index: index)
        let prefix = "snap-\(SnapshotFormat.hex(group))-"
        for name in try FileSystem.list(snapshotDirectory) where name.hasPrefix(prefix) && name < keep {
            try FileSystem.remove(snapshotDirectory + "/" + name)
        }
    }

    /// Writes a received snapshot file durably and verifies every chunk before the core may
    /// act on it. Returns false (message dropped) when it is damaged.
    func acceptSnapshotFile(_ g: HostedGroup, _ m: Message) -> Bool {
        guard let snap = m.snapshot, !snap.data.isEmpty else { return false }
        let name = SnapshotFormat.fileName(group: g.id, index: snap.metadata.index)
        let path = snapshotDirectory + "/" + name
        do {
            try FileSystem.makeDirectory(snapshotDirectory)
            let tmp = path + ".recv"
            let f = try DurableFile(path: tmp, mode: .truncateCreate)
            try f.append(snap.data)
            try f.sync()
            let reader = try SnapshotReader(path: tmp)
            guard reader.group == g.id, reader.metadata == snap.metadata else {
                try FileSystem.remove(tmp)
                note("snapshot for group \(g.id) does not match its header; dropped")
                return false
            }
            while try reader.nextChunk() != nil {}
            try FileSystem.rename(tmp, path)
            try FileSystem.syncDirectory(snapshotDirectory)
            return true
        } catch {
            note("received snapshot for group \(g.id) rejected: \(error)")
            return false
        }
    }

    /// Replaces the state machine with a received snapshot (its file is already verified).
    func installSnapshot(_ g: HostedGroup, _ snap: Snapshot) {
        let path = snapshotDirectory + "/" + SnapshotFormat.fileName(group: g.id, index: snap.metadata.index)
        do {
            let reader = try SnapshotReader(path: path)
            try g.stateMachine.restore(from: { () throws(StorageError) -> [UInt8]? in try reader.nextChunk() })
            g.lastSnapshotIndex = snap.metadata.index
            g.bytesSinceSnapshot = 0
            try removeSnapshots(of: g.id, olderThan: snap.metadata.index)
        } catch {
            stopNode("cannot install snapshot \(path): \(error)")
        }
    }
}
