import SluiceCore

/// Layout of one access-log slot: fixed header, then up to six length-prefixed strings
/// (method, path, request id, route, target, client address), truncated to fit.
enum AccessLogRecord {
    static let fieldCount = 6
    static let headerSize = 24
    static let names: [StaticString] = ["method", "path", "request_id", "route", "target", "client"]
    static let maxField = (AccessLogRing.slotSize - headerSize - fieldCount * 2) / fieldCount

    /// Fills a slot. `fields` are written in the order of `names`.
    static func write(_ slot: UnsafeMutableRawPointer, wallTime: Double, status: Int, durationMicros: UInt64,
                      _ f0: UnsafeRawBufferPointer, _ f1: UnsafeRawBufferPointer, _ f2: UnsafeRawBufferPointer,
                      _ f3: UnsafeRawBufferPointer, _ f4: UnsafeRawBufferPointer, _ f5: UnsafeRawBufferPointer) {
        slot.storeBytes(of: wallTime, toByteOffset: 0, as: Double.self)
        slot.storeBytes(of: Int64(status), toByteOffset: 8, as: Int64.self)
        slot.storeBytes(of: durationMicros, toByteOffset: 16, as: UInt64.self)
        var off = headerSize
        func put(_ f: UnsafeRawBufferPointer) {
            let n = min(f.count, maxField)
            slot.storeBytes(of: UInt16(n), toByteOffset: off, as: UInt16.self)
            if n > 0 { (slot + off + 2).copyMemory(from: f.baseAddress!, byteCount: n) }
            off += 2 + n
        }
        put(f0); put(f1); put(f2); put(f3); put(f4); put(f5)
    }

    /// Formats a slot as one JSON line (writer thread only).
    static func appendJSON(_ slot: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let wall = slot.load(fromByteOffset: 0, as: Double.self)
        let status = slot.load(fromByteOffset: 8, as: Int64.self)
        let micros = slot.load(fromByteOffset: 16, as: UInt64.self)
        out.append(contentsOf: "{\"time\":".utf8)
        out.append(contentsOf: String(format3(wall)).utf8)
        var off = headerSize
        for name in names {
            let n = Int(slot.loadUnaligned(fromByteOffset: off, as: UInt16.self))
            out.append(contentsOf: ",\"".utf8)
            out.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: "\":\"".utf8)
            for b in UnsafeRawBufferPointer(rebasing: slot[(off + 2)..<(off + 2 + n)]) {
                switch b {
                case UInt8(ascii: "\""): out.append(contentsOf: "\\\"".utf8)
                case UInt8(ascii: "\\"): out.append(contentsOf: "\\\\".utf8)
                case 0..<0x20, 0x7F...: out.append(contentsOf: "?".utf8)
                default: out.append(b)
                }
            }
            out.append(UInt8(ascii: "\""))
            off += 2 + n
        }
        out.append(contentsOf: ",\"status\":\(status),\"duration_ms\":\(format3(Double(micros) / 1000))}\n".utf8)
    }

    /// A number with three decimals, without Foundation.
    static func format3(_ v: Double) -> String {
        let scaled = Int64((v * 1000).rounded())
        let whole = scaled / 1000, frac = abs(scaled % 1000)
        let f = String(frac)
        return "\(whole).\(String(repeating: "0", count: 3 - f.count))\(f)"
    }
}
