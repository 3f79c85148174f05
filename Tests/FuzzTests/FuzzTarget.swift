import Foundation
import MultiRaft

/// One decoder under fuzzing: valid seed inputs, an optional repair applied to most mutated
/// inputs (so checksummed formats are not rejected at the checksum every time), and the
/// decoding itself, which must return or throw for every input, never crash or hang.
struct FuzzTarget: Sendable {
    let name: String
    let seeds: [[UInt8]]
    /// Rewrites length and checksum fields of a mutated input (applied to 3 inputs in 4).
    var repair: (@Sendable (inout [UInt8]) -> Void)? = nil
    var maxLength = 1 << 16
    /// Decodes one input; returns whether the decoder accepted it.
    let decode: @Sendable ([UInt8]) -> Bool

    struct Report {
        var inputs = 0
        var accepted = 0
        var seconds = 0.0
        var slowestSeconds = 0.0
        var slowestInput = 0
    }

    /// Decodes every seed, then `runs` mutated inputs from `seed`; with `only`, generates the
    /// same inputs but decodes just input number `only` (to replay one input).
    func run(runs: Int, seed: UInt64, only: Int? = nil) -> Report {
        var mutator = Mutator(seed: seed, seeds: seeds, maxLength: maxLength)
        var report = Report()
        let start = Date()
        for n in 0..<(seeds.count + runs) {
            var input: [UInt8]
            if n < seeds.count {
                input = seeds[n]
            } else {
                input = mutator.next()
                if let repair, mutator.below(4) != 0 { repair(&input) }
            }
            if let only, n != only { continue }
            let t0 = Date()
            if decode(input) { report.accepted += 1 }
            let took = Date().timeIntervalSince(t0)
            if took > report.slowestSeconds {
                report.slowestSeconds = took
                report.slowestInput = n
            }
            report.inputs += 1
        }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }
}

/// Little-endian u32 helpers for the repairs.
func readU32(_ b: [UInt8], _ o: Int) -> UInt32 {
    UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
}

func writeU32(_ b: inout [UInt8], _ o: Int, _ v: UInt32) {
    for k in 0..<4 { b[o + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
}

/// Frames of `[length u32][crc32c u32][body]` from `offset` on: where a frame's length fits,
/// its checksum is recomputed over its body (`extra` header bytes between length and CRC
/// are skipped). Stops at the first length that runs past the end.
func repairFrames(_ b: inout [UInt8], from offset: Int) {
    var at = offset
    while at + 8 <= b.count {
        let length = Int(readU32(b, at))
        guard length <= b.count - at - 8 else { return }
        writeU32(&b, at + 4, CRC32C.checksum(Array(b[(at + 8)..<(at + 8 + length)])))
        at += 8 + length
    }
}

/// A scratch directory for decoders that read files, on tmpfs when there is one.
let scratchRoot = (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()) + "/mystore-fuzz-\(getpid())"

/// (Made by the decoders that use it, when they run, and removed after each fuzz test, so a
/// test process that only lists the targets leaves nothing behind.)
func scratchDirectory(_ name: String) -> String { "\(scratchRoot)/\(name)" }

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
