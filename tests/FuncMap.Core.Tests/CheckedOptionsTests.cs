using FuncMap.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace FuncMap.Core.Tests;

/// <summary>
/// <see cref="CheckedOptions.ValidateOnStartWith"/>: an options type's own throwing check becomes one start-time
/// validator, whose failure is one line under the options' section.
/// </summary>
public sealed class CheckedOptionsTests
{
    private const string Section = "FuncMap:Sample";

    [Fact]
    public void Validate_CheckThrowsArgumentOutOfRange_FailsWithOneLineUnderTheSection()
    {
        var validator = Register(static _ => throw new ArgumentOutOfRangeException("Size", 3, "Size must be at least 4."));

        var result = validator.Validate(Options.DefaultName, new Sample());

        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures!);
        Assert.StartsWith("FuncMap:Sample: Size must be at least 4.", failure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure);
    }

    [Fact]
    public void Validate_MessageAlreadyNamesTheSection_KeepsItAsIs()
    {
        var validator = Register(static _ => throw new InvalidOperationException("FuncMap:Sample:Name is empty."));

        Assert.Equal(["FuncMap:Sample:Name is empty."], validator.Validate(Options.DefaultName, new Sample()).Failures);
    }

    [Fact]
    public void Validate_CheckReturns_Succeeds()
    {
        Assert.True(Register(static _ => { }).Validate(Options.DefaultName, new Sample()).Succeeded);
    }

    [Fact]
    public void Validate_OtherNamedOptions_Skips()
    {
        var validator = Register(static _ => throw new ArgumentException("Name is refused."), name: "one");

        Assert.True(validator.Validate("other", new Sample()).Skipped);
        Assert.True(validator.Validate("one", new Sample()).Failed);
    }

    [Fact]
    public void ValidateOnStartWith_CalledTwice_RegistersOneValidatorAndValidateOnStart()
    {
        var services = new ServiceCollection();
        services.AddOptions<Sample>().ValidateOnStartWith(Section, static _ => { });
        services.AddOptions<Sample>().ValidateOnStartWith(Section, static _ => { });

        Assert.Single(services, static d => d.ServiceType == typeof(IValidateOptions<Sample>));
        Assert.Contains(services, static d => d.ServiceType == typeof(IStartupValidator));
    }

    [Fact]
    public void Validate_OtherExceptions_AreNotTakenForAFailedSetting()
    {
        var validator = Register(static _ => throw new FormatException("a bug, not a setting"));

        Assert.Throws<FormatException>(() => validator.Validate(Options.DefaultName, new Sample()));
    }

    private static IValidateOptions<Sample> Register(Action<Sample> check, string? name = null)
    {
        var services = new ServiceCollection();
        new OptionsBuilder<Sample>(services, name ?? Options.DefaultName).ValidateOnStartWith(Section, check);
        return (IValidateOptions<Sample>)services.Single(static d => d.ServiceType == typeof(IValidateOptions<Sample>)).ImplementationInstance!;
    }

    private sealed class Sample;
}
