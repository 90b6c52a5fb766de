using System.Reflection;

namespace FuncMap.Testing;

/// <summary>
/// The <c>[LoggerMessage]</c> event ids declared in assemblies: an event id names one message, so an operator's
/// filter or alert on it (and the docs that cite it) never matches two different lines.
/// </summary>
public static class LogEventIds
{
    private const string LoggerMessageAttribute = "Microsoft.Extensions.Logging.LoggerMessageAttribute";

    /// <summary>
    /// Every event id declared by more than one <c>[LoggerMessage]</c> method across the assemblies named
    /// <paramref name="assemblyNames"/> (loaded by name, e.g. <c>"FuncMap.Journal"</c>),
    /// each as <c>"{id}: Type.Method, Type.Method"</c>; empty when every id is unique. Ids of 0 or below
    /// (the generator's "none given") are not counted.
    /// </summary>
    public static IReadOnlyList<string> Duplicates(params string[] assemblyNames) =>
        assemblyNames.Distinct()
            .Select(Assembly.Load)
            .SelectMany(assembly => assembly.GetTypes())
            .SelectMany(type => type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static |
                                                BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .SelectMany(method => method.GetCustomAttributesData()
                .Where(attribute => attribute.AttributeType.FullName == LoggerMessageAttribute)
                .Select(attribute => (Id: EventIdOf(attribute), Name: $"{method.DeclaringType!.FullName}.{method.Name}")))
            .Where(message => message.Id > 0)
            .GroupBy(message => message.Id)
            .Where(group => group.Count() > 1)
            .OrderBy(group => group.Key)
            .Select(group => $"{group.Key}: {string.Join(", ", group.Select(message => message.Name))}")
            .ToList();

    private static int EventIdOf(CustomAttributeData attribute)
    {
        foreach (var named in attribute.NamedArguments)
        {
            if (named.MemberName == "EventId")
            {
                return (int)named.TypedValue.Value!;
            }
        }

        // [LoggerMessage(eventId, level, message)]: the constructor's first parameter is the id.
        var parameters = attribute.Constructor.GetParameters();
        for (var i = 0; i < parameters.Length; i++)
        {
            if (parameters[i].Name == "eventId")
            {
                return (int)attribute.ConstructorArguments[i].Value!;
            }
        }

        return 0;
    }
}
