import ArgumentParser
import Dispatch
import MultiRaft
#if canImport(Glibc)
import Glibc
#endif
import SystemClock

/// `mystore-bench wal`: the write-ahead log against a one-fdatasync-per-record baseline.
struct WALBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wal",
        abstract: "Records/s and fsyncs/s of the WAL with 1, 16 and 64 groups, against one fdatasync per record.")

    @Option(help: "Seconds per measurement.") var seconds: Double = 3
    @Option(help: "Bytes per record payload.") var recordBytes: Int = 256
    @Option(help: "Group counts to measure (one concurrent proposer per group).") var groups: [Int] = [1, 16, 64]
    @Option(help: "Folder for the files (removed afterwards).") var dir: String = ".bench-data/wal"

    func run() throws {
        try FileSystem.makeDirectory(dir)
        print("payload \(recordBytes) B, \(fmt(seconds, 1)) s per row, files in \(dir)")
        print(pad("case", 34) + pad("records/s", 12) + pad("fsyncs/s", 12) + pad("records/fsync", 14) + "vs baseline")
        let base = try baseline()
        print(pad("baseline: write + fdatasync each", 34) + pad(fmt(base), 12) + pad(fmt(base), 12) + pad("1.0", 14) + "1.0x")
        for g in groups {
            let (rps, sps) = try wal(groups: g)
            print(pad("WAL, \(g) group\(g == 1 ? "" : "s"), \(g) proposer\(g == 1 ? "" : "s")", 34) + pad(fmt(rps), 12)
                  + pad(fmt(sps), 12) + pad(fmt(rps / max(sps, 1), 1), 14) + fmt(rps / base, 1) + "x")
        }
        _ = system("rm -rf '\(dir)'")
    }

    func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }

    /// The same record size, appended with one write and one fdatasync each.
    func baseline() throws -> Double {
        let path = dir + "/baseline.log"
        let f = try DurableFile(path: path, mode: .truncateCreate)
        let rec = [UInt8](repeating: 0x61, count: recordBytes + 8)
        var n = 0
        let start = monotonicSeconds()
        while monotonicSeconds() - start < seconds {
            try f.append(rec)
            try f.sync()
            n += 1
        }
        let rate = Double(n) / (monotonicSeconds() - start)
        try FileSystem.remove(path)
        return rate
    }

    /// `groups` proposer threads, each appending one entry of its group and waiting until it
    /// is durable, then the next; one writer batches whatever is pending.
    func wal(groups: Int) throws -> (Double, Double) {
        let sub = dir + "/wal-\(groups)"
        _ = system("rm -rf '\(sub)'")
        let log = try WriteAheadLog(settings: WALSettings(directory: sub))
        let committer = GroupCommitLog(storage: log)
        let payload = [UInt8](repeating: 0x62, count: recordBytes)
        let deadline = monotonicSeconds() + seconds
        let done = DispatchGroup()
        for g in 0..<groups {
            done.enter()
            DispatchQueue(label: "proposer-\(g)").async {
                var i: LogIndex = 1
                while monotonicSeconds() < deadline {
                    try? committer.append([.entries(group: GroupID(g), entries: [Entry(term: 1, index: i, data: payload)])])
                    i += 1
                }
                done.leave()
            }
        }
        let start = monotonicSeconds()
        done.wait()
        let elapsed = monotonicSeconds() - start
        committer.close()
        let result = (Double(log.recordsWritten) / elapsed, Double(log.syncs) / elapsed)
        _ = system("rm -rf '\(sub)'")
        return result
    }
}
