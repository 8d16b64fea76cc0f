/// What a parsed request head and a parsed response head share for forwarding: their fields and
/// the Connection facts the parser recorded. The field tests that use them are written once, here.
public protocol MessageHead {
    /// The header fields in order of appearance.
    var fields: [FieldRange] { get }
    /// The elements listed in Connection fields (excluding empty elements), in order.
    var connectionTokens: [ByteRange] { get }
    /// Whether `connectionTokens` holds a name other than the fixed hop-by-hop ones.
    var connectionListsOthers: Bool { get }
    /// Bit `i` set: field `i` (of the first 64) has a fixed hop-by-hop name.
    var hopByHopMask: UInt64 { get }
}

extension MessageHead {
    /// Whether field `f`'s name is listed in this head's Connection fields.
    public func isConnectionListed(_ buf: UnsafeRawBufferPointer, _ f: FieldRange) -> Bool {
        ConnectionList.contains(connectionTokens, buf, f)
    }

    /// Whether field `f` is hop-by-hop: a fixed hop-by-hop name (see `HopByHop`) or listed in Connection.
    @inlinable
    public func isHopByHop(_ buf: UnsafeRawBufferPointer, _ f: FieldRange) -> Bool {
        HopByHop.isHopByHop(f.name(in: buf)) || (connectionListsOthers && ConnectionList.contains(connectionTokens, buf, f))
    }

    /// The same for field `f` at `index` in `fields`: the first 64 fields are answered from the
    /// mask the parser recorded, with no name compare.
    @inlinable
    public func isHopByHop(_ buf: UnsafeRawBufferPointer, _ f: FieldRange, at index: Int) -> Bool {
        guard index < 64 else { return isHopByHop(buf, f) }
        return (hopByHopMask &>> UInt64(index)) & 1 != 0 || (connectionListsOthers && ConnectionList.contains(connectionTokens, buf, f))
    }

    /// Index of the first field whose name equals `lowercaseName` case-insensitively, or nil.
    public func firstIndex(_ buf: UnsafeRawBufferPointer, name lowercaseName: StaticString) -> Int? {
        for i in fields.indices where fieldNameEquals(buf, fields[i], lowercaseName) { return i }
        return nil
    }
}
