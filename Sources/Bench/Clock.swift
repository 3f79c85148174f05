#if canImport(Glibc)
import Glibc
#endif

/// Peak resident memory of this process (bytes), from /proc/self/status.
func peakRSS() -> Int {
    guard let f = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(f) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let s = String(cString: line)
        if s.hasPrefix("VmHWM:") { return (Int(s.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024 }
    }
    return 0
}

/// A number with `digits` decimals; whole numbers get thousands separators.
func fmt(_ v: Double, _ digits: Int = 0) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((v * scale).rounded())
    let whole = abs(scaled) / Int(scale), frac = abs(scaled) % Int(scale)
    var w = ""
    for (i, c) in String(whole).reversed().enumerated() {
        if i > 0 && i % 3 == 0 { w.append(",") }
        w.append(c)
    }
    var s = (scaled < 0 ? "-" : "") + String(w.reversed())
    if digits > 0 {
        let f = String(frac)
        s += "." + String(repeating: "0", count: digits - f.count) + f
    }
    return s
}
