// libFuzzer target: the YAML configuration loader (ConfigLoader.parse: Yams, then validation and
// compilation into a route table).
//
// Properties: never crashes, whatever the bytes; a rejected file always carries at least one error
// with a message; parsing the same text twice gives the same verdict (errors included).
import FuzzSupport
import SluiceConfig


func load(_ text: String) -> ConfigErrors? {
    do {
        _ = try ConfigLoader.parse(yaml: text, file: "fuzz.yaml")
        return nil
    } catch {
        return error
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeRawBufferPointer(start: data, count: size), as: UTF8.self)
    let first = load(text)
    if let first {
        check(!first.errors.isEmpty, "rejected without an error")
        check(first.errors.allSatisfy { !$0.message.isEmpty }, "an error without a message")
    }
    check(load(text) == first, "second parse differs")
    return 0
}
