using Xunit.Abstractions;
using Xunit.Sdk;

namespace FuncMap.Local.Tests;

/// <summary>
/// A <see cref="FactAttribute"/> for contract tests declared once in an abstract class: the test is
/// skipped, with a visible reason, when the concrete test class carries
/// <see cref="RequiresEnvironmentAttribute"/> and that environment variable is not set.
/// </summary>
[XunitTestCaseDiscoverer("FuncMap.Local.Tests.ContractFactDiscoverer", "FuncMap.Local.Tests")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ContractFactAttribute : FactAttribute;

/// <summary>Marks a contract test class that runs only when <see cref="Variable"/> is set.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class RequiresEnvironmentAttribute(string variable) : Attribute
{
    /// <summary>The environment variable.</summary>
    public string Variable { get; } = variable;
}

/// <summary>Discovers <see cref="ContractFactAttribute"/> tests, deciding the skip per concrete class.</summary>
public sealed class ContractFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        string? skip = null;
        var requirement = testMethod.TestClass.Class.GetCustomAttributes(typeof(RequiresEnvironmentAttribute)).FirstOrDefault();
        if (requirement?.GetConstructorArguments().FirstOrDefault() is string variable
            && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable)))
        {
            skip = $"set {variable} to run (a running host's base URL, and FUNCMAP_FUNCTION_KEY if it needs a key): the contract against that host.";
        }

        yield return new ContractTestCase(diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
            discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, skip);
    }
}

/// <summary>A test case whose skip reason comes from the discoverer rather than the attribute.</summary>
public sealed class ContractTestCase : XunitTestCase
{
    private string? _skipReason;

    [Obsolete("Called by the de-serializer", error: true)]
    public ContractTestCase()
    {
    }

    public ContractTestCase(IMessageSink diagnosticMessageSink, TestMethodDisplay methodDisplay, TestMethodDisplayOptions methodDisplayOptions, ITestMethod testMethod, string? skipReason)
        : base(diagnosticMessageSink, methodDisplay, methodDisplayOptions, testMethod)
    {
        _skipReason = skipReason;
        Initialize();
    }

    protected override void Initialize()
    {
        base.Initialize();
        if (_skipReason is not null)
        {
            SkipReason = _skipReason;
        }
    }

    public override void Serialize(IXunitSerializationInfo data)
    {
        base.Serialize(data);
        data.AddValue("ContractSkipReason", _skipReason);
    }

    public override void Deserialize(IXunitSerializationInfo data)
    {
        base.Deserialize(data);
        _skipReason = data.GetValue<string>("ContractSkipReason");
        if (_skipReason is not null)
        {
            SkipReason = _skipReason;
        }
    }
}
