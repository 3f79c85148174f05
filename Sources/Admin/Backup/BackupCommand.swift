import ArgumentParser
import Foundation
import MultiRaft
import MyStoreClient
import ShardRouter
import SystemClock

/// `mystore backup FILE` and `mystore backup verify FILE`.
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take an online backup of every shard, or check a backup file.",
        subcommands: [BackupSave.self, BackupVerify.self],
        defaultSubcommand: BackupSave.self
    )
}

struct BackupSave: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save",
        abstract: "Write an online backup of every shard to FILE (`mystore backup FILE`).",
        discussion: """
        Reads the shard map at one meta index, then streams each shard from its leader: the leader \
        confirms its leadership with a ReadIndex round after the request arrives and captures the \
        shard at the index it has applied then, so every write acknowledged before the backup \
        started is in the file. Progress goes to stderr.
        """
    )

    @Argument(help: ArgumentHelp("The backup file to write (replaced when it exists).", valueName: "file")) var file: String
    @OptionGroup var cluster: ClusterOptions

    func run() throws {
        let client = try cluster.client()
        let started = monotonicSeconds()
        let (metaIndex, shards) = try Self.shardMap(client)
        let header = BackupHeader(createdMillis: wallClockMillis(), metaIndex: metaIndex, shards: shards)
        let writer: BackupFileWriter
        do {
            writer = try BackupFileWriter(path: file, header: header)
        } catch {
            throw AdminError("cannot write \(file): \(error)")
        }
        let progress = Progress(total: shards.count, started: started)
        var known = try cluster.nodes()
        do {
            for (k, shard) in shards.enumerated() {
                // A stream that breaks off (its node stopped) is dropped from the file and the
                // shard captured again, on whichever node leads it now.
                for attempt in 1...Self.streamAttempts {
                    do {
                        try backUp(shard, client: client, known: &known, writer: writer, progress: progress)
                        break
                    } catch let e as StreamBroken where attempt < Self.streamAttempts {
                        try writer.abandonSection()
                        FileHandle.standardError.write(Data("backup: \(e.reason); capturing the shard again\n".utf8))
                    }
                }
                progress.shardDone(k + 1, bytes: writer.bytes)
            }
            try writer.finish()
        } catch {
            writer.abort()
            progress.end()
            if let e = error as? AdminError { throw e }
            throw AdminError("backup failed: \(error)")
        }
        progress.end()
        let seconds = max(monotonicSeconds() - started, 0.001)
        let summary = "backup \(file): \(shards.count) shards, meta index \(metaIndex), \(writer.bytes) bytes in \(String(format: "%.1f", seconds)) s (\(String(format: "%.1f", Double(writer.bytes) / seconds / 1e6)) MB/s)"
        if cluster.json {
            print(try Output.json(["file": file, "shards": "\(shards.count)", "meta_index": "\(metaIndex)", "bytes": "\(writer.bytes)",
                                   "seconds": String(format: "%.3f", seconds)]))
        } else {
            print(summary)
        }
    }

    /// Tries per shard when its stream breaks off.
    static let streamAttempts = 3

    /// A shard's stream ended early: the connection to its node failed, or the node stopped it.
    struct StreamBroken: Error, CustomStringConvertible {
        var reason: String
        var description: String { reason }
    }

    /// The shard map at one meta index (`MYSTORE.BACKUP MAP`).
    static func shardMap(_ client: ClusterClient) throws -> (UInt64, [BackupHeader.ShardInfo]) {
        let reply = try client.command(Topology.args("MYSTORE.BACKUP", "MAP"))
        if case .error(let e) = reply { throw AdminError("cannot read the shard map: \(e)") }
        guard let parts = reply.elements, let index = parts.first?.integer, parts.count > 1 else {
            throw AdminError("unexpected answer to MYSTORE.BACKUP MAP: \(reply)")
        }
        var shards: [BackupHeader.ShardInfo] = []
        for p in parts.dropFirst() {
            guard let f = p.elements?.compactMap(\.integer), f.count >= 3, f.count % 2 == 1 else {
                throw AdminError("unexpected shard in the answer to MYSTORE.BACKUP MAP: \(p)")
            }
            var ranges: [SlotRange] = []
            for k in stride(from: 1, to: f.count, by: 2) {
                guard let r = SlotRange(Int(f[k]), Int(f[k + 1])) else { throw AdminError("bad slot range \(f[k])-\(f[k + 1]) in the shard map") }
                ranges.append(r)
            }
            shards.append(.init(id: ShardID(rawValue: Int(f[0])), slotRanges: ranges))
        }
        return (UInt64(index), shards)
    }

    /// Streams one shard into the file: BEGIN on its leader (retried while leadership
    /// moves), then NEXT until the end of its snapshot stream.
    private func backUp(_ shard: BackupHeader.ShardInfo, client: ClusterClient, known: inout [NodeAddress], writer: BackupFileWriter,
                        progress: Progress) throws {
        var begin: [RESPReply] = []
        var lastError = ""
        // Each try asks the next node known (the endpoints, then nodes that answered BEGIN),
        // so a stopped node or a moving leadership costs a retry, not the backup.
        for attempt in 0..<20 {
            do {
                let reply = try client.command(Topology.args("MYSTORE.BACKUP", "BEGIN", String(shard.id.rawValue)),
                                               on: known[attempt % known.count])
                if let p = reply.elements, p.count == 3 {
                    begin = p
                    break
                }
                lastError = reply.errorMessage ?? "\(reply)"
            } catch {
                lastError = "\(error)"
            }
            Thread.sleep(forTimeInterval: 0.1 * Double(min(attempt + 1, 10)))
        }
        guard let id = begin.first?.integer, let index = begin.dropFirst().first?.integer, let addressText = begin.last?.text,
              let address = try? NodeAddress(parsing: addressText) else {
            throw AdminError("shard \(shard.id.rawValue): the leader did not start the backup: \(lastError)")
        }
        if !known.contains(address) { known.append(address) }
        // The leader streams at its own pace; a reply may wait for the next compressed chunk.
        let connection: RESPConnection
        do {
            connection = try RESPConnection(to: address, settings: ConnectionSettings(timeout: .seconds(max(cluster.timeout, 60))))
        } catch {
            throw StreamBroken(reason: "shard \(shard.id.rawValue): cannot reach \(address): \(error)")
        }
        defer {
            _ = try? connection.send(Topology.args("MYSTORE.BACKUP", "END", String(id)))
            connection.close()
        }
        try writer.beginSection(shard: shard.id, slotRanges: shard.slotRanges, appliedIndex: UInt64(index))
        while true {
            let reply: RESPReply
            do {
                reply = try connection.send(Topology.args("MYSTORE.BACKUP", "NEXT", String(id)))
            } catch {
                throw StreamBroken(reason: "shard \(shard.id.rawValue): the stream from \(address) broke off: \(error)")
            }
            if reply.isNull { break }
            guard case .bulkString(let bytes) = reply else {
                throw StreamBroken(reason: "shard \(shard.id.rawValue): \(address) stopped the stream: \(reply.errorMessage ?? "\(reply)")")
            }
            try writer.writeStream(bytes)
            progress.streaming(bytes: writer.bytes)
        }
        try writer.endSection()
    }

    /// The progress line on stderr: shards done, bytes written, MB/s. Rewritten in place on a
    /// terminal, one line every few seconds otherwise.
    final class Progress {
        let total: Int
        let started: Double
        let terminal = isatty(2) != 0
        var done = 0
        var last = 0.0

        init(total: Int, started: Double) {
            self.total = total
            self.started = started
        }

        func line(_ bytes: Int) -> String {
            let s = max(monotonicSeconds() - started, 0.001)
            return "backup: \(done)/\(total) shards, \(String(format: "%.1f", Double(bytes) / 1e6)) MB, \(String(format: "%.1f", Double(bytes) / s / 1e6)) MB/s"
        }

        func emit(_ text: String, force: Bool) {
            let now = monotonicSeconds()
            guard force || now - last >= (terminal ? 0.2 : 5) else { return }
            last = now
            FileHandle.standardError.write(Data((terminal ? "\r\u{1B}[K" + text : text + "\n").utf8))
        }

        func streaming(bytes: Int) { emit(line(bytes), force: false) }

        func shardDone(_ n: Int, bytes: Int) {
            done = n
            emit(line(bytes), force: !terminal || n == total)
        }

        func end() { if terminal { FileHandle.standardError.write(Data("\n".utf8)) } }
    }
}

struct BackupVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a backup file: every checksum, its structure, and every shard's state decoded.",
        discussion: "Exits 1 naming the shard and offset of the first damage found."
    )

    @Argument(help: ArgumentHelp("The backup file.", valueName: "file")) var file: String
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws {
        let backup: BackupFileReader
        do {
            backup = try BackupFileReader(path: file)
        } catch {
            throw AdminError(error.opening ? "\(error)" : "backup is damaged: \(error)")
        }
        let keys = backup.sections.reduce(0) { $0 + $1.keys }
        let state = backup.sections.reduce(0) { $0 + $1.stateBytes }
        if json {
            print(try Output.json(["file": file, "status": "ok", "shards": "\(backup.sections.count)", "keys": "\(keys)",
                                   "state_bytes": "\(state)", "file_bytes": "\(backup.size)", "meta_index": "\(backup.header.metaIndex)"]))
            return
        }
        let created = Date(timeIntervalSince1970: Double(backup.header.createdMillis) / 1000)
        print("backup \(file): OK")
        print("  format \(BackupFormat.version), taken \(created), meta index \(backup.header.metaIndex)")
        print("  \(backup.sections.count) shards, \(keys) keys, \(state) bytes of state, \(backup.size) bytes in the file")
        for s in backup.sections {
            print("  shard \(s.shard.rawValue): slots \(s.slotRanges.map(\.description).joined(separator: ",")), applied index \(s.appliedIndex), \(s.keys) keys, \(s.stateBytes) bytes")
        }
    }
}
