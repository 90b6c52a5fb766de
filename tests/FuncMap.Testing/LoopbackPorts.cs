using System.Net;
using System.Net.Sockets;

namespace FuncMap.Testing;

/// <summary>Free TCP ports on the loopback interface, for processes a test starts.</summary>
public static class LoopbackPorts
{
    /// <summary>
    /// <paramref name="count"/> distinct free ports: all of them held at once while chosen, so the OS cannot hand out
    /// one twice; released on return (another process may still take one before the test binds it).
    /// </summary>
    public static int[] Free(int count)
    {
        var sockets = new Socket[count];
        try
        {
            for (var i = 0; i < count; i++)
            {
                sockets[i] = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets[i].Bind(new IPEndPoint(IPAddress.Loopback, 0));
                sockets[i].Listen();
            }

            return [.. sockets.Select(static s => ((IPEndPoint)s.LocalEndPoint!).Port)];
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket?.Dispose();
            }
        }
    }
}
