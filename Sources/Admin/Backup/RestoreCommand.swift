import ArgumentParser
import Foundation
import MultiRaft
import ShardRouter

/// `mystore restore FILE --membership FILE --data-dir-root DIR`: lays out a new cluster's
/// data directories from a backup, as `etcdctl snapshot restore` does.
struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Lay out a new cluster's data directories from a backup file.",
        discussion: """
        Checks the whole backup first, then writes DIR/<host>_<port> for every member of the \
        membership file (the name mystore-server uses by default under data/), each holding \
        restore/MANIFEST and one snapshot per shard. Start every node with --data-dir \
        DIR/<host>_<port>, the same membership file and the backup's shard_count: on its first \
        start each node founds its shard groups from the backup's state. Refuses to write into \
        a directory that is not empty.
        """
    )

    @Argument(help: ArgumentHelp("The backup file.", valueName: "file")) var file: String
    @Option(help: ArgumentHelp("The new cluster's membership file.", valueName: "path")) var membership: String
    @Option(name: .customLong("data-dir-root"), help: ArgumentHelp("Where the members' data directories go.", valueName: "dir")) var dataDirRoot: String

    func run() throws {
        let members = try MembershipFile.load(membership).nodes
        let directories = members.map { dataDirRoot + "/" + $0.pathComponent }
        for d in directories {
            let existing = (try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []
            if !existing.isEmpty {
                throw AdminError("\(d) is not empty (found \(existing.sorted().prefix(3).joined(separator: ", "))); restore writes only into new or empty directories")
            }
        }
        let backup: BackupFileReader
        do {
            backup = try BackupFileReader(path: file)
        } catch {
            throw AdminError(error.opening ? "\(error); nothing restored" : "backup is damaged, nothing restored: \(error)")
        }
        let started = Date()
        let manifest = RestoreManifest(shards: backup.sections.map {
            RestoreManifest.Entry(shard: $0.shard, slotRanges: $0.slotRanges, appliedIndex: $0.appliedIndex)
        })
        do {
            for d in directories {
                let seed = d + "/" + RestoreManifest.directoryName
                try FileSystem.makeDirectory(d)
                try FileSystem.makeDirectory(seed)
                for s in backup.sections {
                    let path = seed + "/" + RestoreManifest.snapshotName(s.shard)
                    let out = try DurableFile(path: path + ".tmp", mode: .truncateCreate)
                    try backup.copy(offset: s.streamOffset, count: s.streamBytes) { (block: [UInt8]) throws(StorageError) in try out.append(block) }
                    try out.sync()
                    try FileSystem.rename(path + ".tmp", path)
                }
                // The manifest last: a directory without it is not a seed a node would start from.
                try FileSystem.writeDurably(Array(manifest.encoded.utf8), to: seed + "/" + RestoreManifest.fileName)
                try FileSystem.syncDirectory(d)
            }
        } catch {
            throw AdminError("restore failed: \(error); remove \(dataDirRoot) and run it again")
        }
        let keys = backup.sections.reduce(0) { $0 + $1.keys }
        print("restored \(backup.sections.count) shards (\(keys) keys) into \(directories.count) data directories in \(String(format: "%.1f", Date().timeIntervalSince(started))) s:")
        for (m, d) in zip(members, directories) {
            print("  mystore-server --self \(m) --membership \(membership) --data-dir \(d) --set shard_count=\(backup.sections.count)")
        }
    }
}
