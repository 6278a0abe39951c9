// Element types found in checkpoint files (safetensors dtype strings, PyTorch
// storage classes) and their conversion to Float32.
//
// Conventions: IEEE 754 binary16 (F16) and bfloat16 (BF16, the top 16 bits of
// a binary32) are widened exactly; F64 is rounded to nearest Float32; integer
// and boolean tensors are converted to Float32 (exact below 2^24). Raw bytes
// are little-endian unless `bigEndian` is set (PyTorch's `byteorder` record).

import Foundation

/// The element type of a stored tensor.
public enum TensorDType: String, Sendable, CaseIterable {
    case float32 = "F32"
    case float16 = "F16"
    case bfloat16 = "BF16"
    case float64 = "F64"
    case int64 = "I64"
    case int32 = "I32"
    case int16 = "I16"
    case int8 = "I8"
    case uint8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    /// Whether the type is a floating-point type (the only kind a network's weights should have).
    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64: return true
        default: return false
        }
    }

    /// The safetensors dtype string, e.g. "F16".
    public var safetensorsName: String { rawValue }

    /// The dtype of a PyTorch storage class name (`FloatStorage`, `HalfStorage`, …), nil if unknown.
    public init?(torchStorageClass name: String) {
        switch name {
        case "FloatStorage": self = .float32
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "DoubleStorage": self = .float64
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }
}

/// IEEE binary16 bits → Float (exact; subnormals, infinities and NaN included).
@inline(__always)
public func float16BitsToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x03FF)
    if exponent == 0 {
        // Zero or subnormal: value = mantissa · 2^-24.
        let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000) // 2^-24
        return Float(bitPattern: sign | magnitude.bitPattern)
    }
    if exponent == 0x1F {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// bfloat16 bits → Float (exact: bfloat16 is the high half of a binary32).
@inline(__always)
public func bfloat16BitsToFloat(_ b: UInt16) -> Float {
    Float(bitPattern: UInt32(b) << 16)
}

/// Converts `count` elements of type `dtype` from raw bytes to Float32.
/// `bytes` must hold at least `count · dtype.byteSize` bytes (the caller checks).
public func decodeElements(_ bytes: UnsafeRawBufferPointer, dtype: TensorDType, count: Int,
                           bigEndian: Bool = false) -> [Float] {
    precondition(bytes.count >= count * dtype.byteSize, "decodeElements: buffer too short")
    return [Float](unsafeUninitializedCapacity: count) { out, initialized in
        let swap = bigEndian
        switch dtype {
        case .float32:
            for i in 0..<count {
                var bits = bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                bits = swap ? bits.byteSwapped : UInt32(littleEndian: bits)
                out[i] = Float(bitPattern: bits)
            }
        case .float16:
            for i in 0..<count {
                var bits = bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                bits = swap ? bits.byteSwapped : UInt16(littleEndian: bits)
                out[i] = float16BitsToFloat(bits)
            }
        case .bfloat16:
            for i in 0..<count {
                var bits = bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                bits = swap ? bits.byteSwapped : UInt16(littleEndian: bits)
                out[i] = bfloat16BitsToFloat(bits)
            }
        case .float64:
            for i in 0..<count {
                var bits = bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
                bits = swap ? bits.byteSwapped : UInt64(littleEndian: bits)
                out[i] = Float(Double(bitPattern: bits))
            }
        case .int64:
            for i in 0..<count {
                var v = bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)
                v = swap ? v.byteSwapped : Int64(littleEndian: v)
                out[i] = Float(v)
            }
        case .int32:
            for i in 0..<count {
                var v = bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)
                v = swap ? v.byteSwapped : Int32(littleEndian: v)
                out[i] = Float(v)
            }
        case .int16:
            for i in 0..<count {
                var v = bytes.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)
                v = swap ? v.byteSwapped : Int16(littleEndian: v)
                out[i] = Float(v)
            }
        case .int8:
            for i in 0..<count { out[i] = Float(bytes.load(fromByteOffset: i, as: Int8.self)) }
        case .uint8:
            for i in 0..<count { out[i] = Float(bytes[i]) }
        case .bool:
            for i in 0..<count { out[i] = bytes[i] != 0 ? 1 : 0 }
        }
        initialized = count
    }
}
