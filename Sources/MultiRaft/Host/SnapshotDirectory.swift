/// A node's snapshot folder, and the one place the host names the files in it:
/// `snap-<group>-<index>.snap` (a group's snapshots, the newest one counts; the name comes from
/// `SnapshotFormat.fileName`), `replica-<group>` (the replica id this node uses in a group),
/// and what a restart finds half done: `.tmp` (a snapshot being written) and `.recv` (one
/// being received).
struct SnapshotDirectory: Sendable {
    let path: String

    /// The file of `group`'s snapshot at `index`.
    func snapshot(group: GroupID, index: LogIndex) -> String { path + "/" + SnapshotFormat.fileName(group: group, index: index) }

    /// Where a snapshot received for `file` is written before it is verified.
    func receiving(_ file: String) -> String { file + ".recv" }

    func replicaFile(_ group: GroupID) -> String { path + "/replica-\(SnapshotFormat.hex(group))" }

    /// Names of `group`'s snapshot files, oldest first (hex indexes sort in order).
    private func snapshotNames(of group: GroupID) throws(StorageError) -> [String] {
        let prefix = "snap-\(SnapshotFormat.hex(group))-"
        return try FileSystem.list(path).filter { $0.hasPrefix(prefix) && $0.hasSuffix(".snap") }.sorted()
    }

    /// The newest snapshot file of `group`, if any.
    func newest(of group: GroupID) throws(StorageError) -> String? {
        guard FileSystem.exists(path) else { return nil }
        return try snapshotNames(of: group).last.map { path + "/" + $0 }
    }

    /// Removes `group`'s snapshot files older than the one at `index`.
    func removeSnapshots(of group: GroupID, olderThan index: LogIndex) throws(StorageError) {
        let keep = SnapshotFormat.fileName(group: group, index: index)
        for name in try snapshotNames(of: group) where name < keep {
            try FileSystem.remove(path + "/" + name)
        }
    }

    /// Removes what snapshot writes and receives left when the node stopped.
    func removeLeftovers() {
        for name in (try? FileSystem.list(path)) ?? [] where name.hasSuffix(".tmp") || name.hasSuffix(".recv") {
            try? FileSystem.remove(path + "/" + name)
        }
    }
}
