import ArgumentParser
import MultiRaft
#if canImport(Glibc)
import Glibc
#endif
import SystemClock

/// `mystore-bench snapshot`: write and read throughput of the chunked zlib snapshot format
/// on generated key/value text, with the compression ratio and peak memory.
struct SnapshotBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Snapshot write/read MB/s and compression ratio on realistic text values.")

    @Option(help: "Snapshot size in MiB of state.") var mib: Int = 200
    @Option(help: "Chunk size in KiB.") var chunkKib: Int = 1024
    @Option(help: "zlib level (1-9).") var level: Int32 = 6
    @Option(help: "Folder for the file (removed afterwards).") var dir: String = ".bench-data/snapshot"

    func run() throws {
        let chunk = chunkKib << 10
        // Key/value records like a store's: keys with ids, JSON-ish values, repeating words.
        var state = KVTextGenerator(seed: 7)
        let w = try SnapshotWriter(directory: dir, group: 1, metadata: SnapshotMetadata(index: 1, term: 1, configuration: Configuration(voters: [1, 2, 3])),
                                   chunkSize: chunk, compressionLevel: level)
        var genTime = 0.0
        let t0 = monotonicSeconds()
        for _ in 0..<(mib << 20) / chunk {
            let g0 = monotonicSeconds()
            let block = state.next(chunk)
            genTime += monotonicSeconds() - g0
            try w.write(block)
        }
        let path = try w.finish()
        let writeSecs = monotonicSeconds() - t0 - genTime
        let t1 = monotonicSeconds()
        let r = try SnapshotReader(path: path)
        var n = 0
        while let c = try r.nextChunk() { n += c.count }
        let readSecs = monotonicSeconds() - t1
        let mb = Double(w.rawBytes) / 1e6
        print("state \(fmt(mb, 1)) MB in \(chunkKib) KiB chunks, zlib level \(level)")
        print("file \(fmt(Double(w.fileBytes) / 1e6, 1)) MB, compression ratio \(fmt(Double(w.rawBytes) / Double(w.fileBytes), 2)):1")
        print("write (deflate + CRC + fsync + rename): \(fmt(mb / writeSecs, 1)) MB/s of state")
        print("read (CRC + inflate): \(fmt(mb / readSecs, 1)) MB/s of state, \(n == w.rawBytes ? "verified" : "SIZE MISMATCH")")
        print("peak RSS \(fmt(Double(peakRSS()) / 1e6, 1)) MB")
        _ = system("rm -rf '\(dir)'")
    }
}

/// Generates realistic key/value text: user and order records with ids, statuses, names.
struct KVTextGenerator {
    var rng: SplitMix64
    static let words = ["alice", "bob", "carol", "dave", "erin", "frank", "shipped", "pending", "paid", "refunded",
                        "berlin", "paris", "tokyo", "lima", "oslo", "madrid", "blue", "green", "red", "large", "small"]

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func next(_ n: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(n + 256)
        while out.count < n {
            let id = rng.next() % 10_000_000
            let w = Self.words
            let a = w[Int(rng.next() % UInt64(w.count))], b = w[Int(rng.next() % UInt64(w.count))], c = w[Int(rng.next() % UInt64(w.count))]
            out.append(contentsOf: Array("user:\(id)\t{\"name\":\"\(a)\",\"city\":\"\(b)\",\"status\":\"\(c)\",\"orders\":\(rng.next() % 500),\"score\":\(rng.next() % 100000)}\n".utf8))
        }
        return Array(out.prefix(n))
    }
}
