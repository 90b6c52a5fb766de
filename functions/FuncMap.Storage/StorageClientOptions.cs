using Azure.Core;

namespace FuncMap.Storage;

/// <summary>Pipeline options (retries, diagnostics, transport) for a <see cref="StorageConnection"/>.</summary>
public sealed class StorageClientOptions : ClientOptions
{
    /// <summary>x-ms-version sent on every request; 2019-02-02 is served by Azure and Azurite alike.</summary>
    public const string DefaultServiceVersion = "2019-02-02";

    public StorageClientOptions()
    {
        Retry.Mode = RetryMode.Exponential;
        Retry.MaxRetries = 3;
        Retry.Delay = TimeSpan.FromMilliseconds(400);
        Retry.MaxDelay = TimeSpan.FromSeconds(8);
        Retry.NetworkTimeout = TimeSpan.FromSeconds(30);
        Diagnostics.LoggedHeaderNames.Add("x-ms-error-code");
        Diagnostics.LoggedHeaderNames.Add("x-ms-version");
        Diagnostics.LoggedHeaderNames.Add("x-ms-approximate-messages-count");
        Diagnostics.LoggedQueryParameters.Add("numofmessages");
        Diagnostics.LoggedQueryParameters.Add("visibilitytimeout");
        Diagnostics.LoggedQueryParameters.Add("$top");
    }

    /// <summary>The x-ms-version header value.</summary>
    public string ServiceVersion { get; set; } = DefaultServiceVersion;
}
