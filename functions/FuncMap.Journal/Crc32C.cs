using System.Buffers.Binary;
using System.Numerics;

namespace FuncMap.Journal;

/// <summary>CRC-32C (Castagnoli), on the processor's instruction where it has one (<see cref="BitOperations.Crc32C(uint, ulong)"/>).</summary>
internal static class Crc32C
{
    /// <summary>The CRC-32C of <paramref name="data"/> (standard initial value and final complement).</summary>
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = uint.MaxValue;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }
}
