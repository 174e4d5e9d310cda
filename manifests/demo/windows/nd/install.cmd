@echo off
rem Installs the Network Direct (ND) InfiniBand driver, the one for H- and
rem N-series sizes without SR-IOV (H16r, H16mr, NC24r): a signed INF driver
rem package, added to the driver store and installed on the device by PnPUtil.
rem Exit codes are PnPUtil's: 0 installed, 259 nothing newer to install (no
rem matching device, or it already has this driver or a newer one), 3010
rem installed but a reboot is needed.
rem Windows Server 2012 and 2012 R2 only know PnPUtil's older syntax
rem "-i -a INF"; Windows 10 and Server 2016 and newer take "/add-driver INF
rem /install".
rem A demo bundle carries demo-standin.cmd, which runs instead of PnPUtil.
setlocal
cd /d "%~dp0" || exit /b 1
set "INF=driver\ibdrv-demo-nd.inf"
set "BUILD=0"
for /f "tokens=3" %%b in ('reg query "HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion" /v CurrentBuildNumber 2^>nul ^| find "REG_SZ"') do set "BUILD=%%b"
set "PROGRAM=pnputil.exe"
if %BUILD% LSS 10240 (set ARGS=-i -a "%INF%") else (set ARGS=/add-driver "%INF%" /install)
if exist demo-standin.cmd goto demo
%PROGRAM% %ARGS%
exit /b %ERRORLEVEL%
:demo
call demo-standin.cmd nd 1.0.0
exit /b %ERRORLEVEL%
