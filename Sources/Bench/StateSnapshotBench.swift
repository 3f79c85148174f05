import ArgumentParser
import KVStore
import MultiRaft
#if canImport(Glibc)
import Glibc
#endif
import SystemClock

/// `mystore-bench state-snapshot`: what a shard snapshot costs the thread that writes it. Fills
/// a key-value state machine the way writes through a cluster do (client sessions, every key
/// overwritten so it has a history), then times `writeSnapshot` on its own (serialising the
/// state) and through a `SnapshotWriter` (serialising, compressing, checksumming, fsync).
struct StateSnapshotBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state-snapshot",
        abstract: "Time a key-value shard's snapshot: serialisation alone and the whole file write.")

    @Option(help: "Keys in the state.") var keys: Int = 6_250
    @Option(help: "Writes per key (each kept in the key's history, up to its depth).") var writesPerKey: Int = 3
    @Option(help: "Value size in bytes.") var valueSize: Int = 256
    @Option(help: "Client sessions the writes come from.") var clients: Int = 256
    @Option(help: "Values: `text` (varied records) or `fixed` (one filler, as mystore-bench put writes).") var values: String = "text"
    @Option(help: "Timed snapshots of each kind (the median is reported).") var rounds: Int = 7
    @Option(help: "zlib level (1-9).") var level: Int32 = 1
    @Option(help: "Folder for the files (removed afterwards).") var dir: String = ".bench-data/state-snapshot"

    func run() throws {
        guard keys > 0, writesPerKey > 0, valueSize > 0, clients > 0, rounds > 0 else {
            throw ValidationError("keys, writes-per-key, value-size, clients and rounds must be positive")
        }
        guard values == "text" || values == "fixed" else { throw ValidationError("values must be `text` or `fixed`") }
        let machine = KVStateMachine()
        var text = KVTextGenerator(seed: 11)
        let filler = [UInt8](repeating: UInt8(ascii: "x"), count: valueSize)
        var index: LogIndex = 0
        var sequence = [UInt64](repeating: 0, count: clients)
        for round in 0..<writesPerKey {
            for k in 0..<keys {
                index += 1
                let client = Int(index) % clients
                sequence[client] += 1
                let name = Array("key:\(k)".utf8)
                let key = name + [UInt8](repeating: UInt8(ascii: "."), count: max(0, 32 - name.count))
                let value = values == "text" ? text.next(valueSize) : filler
                let request = KVRequest(clientID: UInt64(client + 1), sequence: sequence[client], timestampMillis: 1_000 + UInt64(round),
                                        command: .set(key: key, value: value, condition: .always, expiry: .none, returnOld: false))
                _ = machine.apply(index: index, data: request.encoded())
            }
        }
        var serialise: [Double] = []
        var whole: [Double] = []
        var raw = 0, file = 0
        for _ in 0..<rounds {
            var n = 0
            let t0 = monotonicSeconds()
            machine.writeSnapshot { n += $0.count }
            serialise.append(monotonicSeconds() - t0)
            raw = n
            let meta = SnapshotMetadata(index: index, term: 1, configuration: Configuration(voters: [1, 2, 3]))
            let t1 = monotonicSeconds()
            let w = try SnapshotWriter(directory: dir, group: 1, metadata: meta, compressionLevel: level)
            try machine.writeSnapshot { try w.write($0) }
            try w.finish()
            whole.append(monotonicSeconds() - t1)
            file = w.fileBytes
        }
        _ = system("rm -rf '\(dir)'")
        let s = serialise.sorted()[rounds / 2], t = whole.sorted()[rounds / 2]
        let mb = Double(raw) / 1e6
        print("state: \(keys) keys × \(writesPerKey) writes of \(valueSize) bytes (\(values) values), \(clients) sessions")
        print("snapshot \(fmt(mb, 2)) MB raw, \(fmt(Double(file) / 1e6, 2)) MB file (zlib level \(level))")
        print("serialise only: \(fmt(s * 1000, 2)) ms (\(fmt(mb / s, 1)) MB/s)   whole file: \(fmt(t * 1000, 2)) ms (\(fmt(mb / t, 1)) MB/s), medians of \(rounds)")
    }
}
