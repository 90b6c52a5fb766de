using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace FuncMap.Configuration;

/// <summary>
/// Start-time validation for an options type that checks itself: its check throws <see cref="ArgumentException"/>
/// (<see cref="ArgumentOutOfRangeException"/> included) or <see cref="InvalidOperationException"/> with a message that
/// names the setting, and the host refuses to start (<see cref="OptionsValidationException"/>) with that message as one
/// line under the setting's section, as configuration, instead of the constructor that gets the options finding it as
/// an argument error.
/// </summary>
public static class CheckedOptions
{
    /// <summary>
    /// Validates <typeparamref name="TOptions"/> with <paramref name="check"/> at start (<c>ValidateOnStart</c>) and on
    /// every later read of the options. One check per options type: a second call for the same type is ignored.
    /// </summary>
    /// <param name="builder">The options' builder (<c>services.AddOptions&lt;TOptions&gt;()</c>).</param>
    /// <param name="section">
    /// The configuration section the options are bound from (<c>FuncMap:Engine</c>): the failure is
    /// <c>{section}: {message}</c> on one line, or the message alone when it already starts with <c>{section}:</c>.
    /// </param>
    /// <param name="check">The options type's own check; returns when the options are valid.</param>
    public static OptionsBuilder<TOptions> ValidateOnStartWith<TOptions>(this OptionsBuilder<TOptions> builder, string section, Action<TOptions> check)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(section);
        ArgumentNullException.ThrowIfNull(check);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>>(new Validator<TOptions>(builder.Name, section, check)));
        return builder.ValidateOnStart();
    }

    /// <summary>The failure line for <paramref name="message"/>: <c>{section}: {message}</c>, line breaks folded to spaces.</summary>
    internal static string Failure(string section, string message)
    {
        var line = message.ReplaceLineEndings(" ");
        return line.StartsWith(section + ":", StringComparison.Ordinal) ? line : section + ": " + line;
    }

    /// <summary>The adapter from a throwing check to <see cref="IValidateOptions{TOptions}"/>, for the named options only.</summary>
    private sealed class Validator<TOptions>(string? optionsName, string section, Action<TOptions> check) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? name, TOptions options)
        {
            if (optionsName is not null && optionsName != name)
            {
                return ValidateOptionsResult.Skip;
            }

            try
            {
                check(options);
                return ValidateOptionsResult.Success;
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
            {
                return ValidateOptionsResult.Fail(Failure(section, ex.Message));
            }
        }
    }
}
