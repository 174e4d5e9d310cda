@echo off
rem Installs Mellanox WinOF 5.65 (VPI), the driver for ConnectX-3 Pro virtual
rem functions on SR-IOV sizes, without any user interface.
rem The vendor ships one build per Windows release, named after it
rem (MLNX_VPI_WinOF-5_65_51000_All_<release>_x64.exe); this picks the one for
rem the running build number.
rem /S silences the InstallShield wrapper; /v hands "/qn /norestart" to
rem msiexec: no UI, and no reboot of its own (the caller learns of a pending
rem reboot from exit code 3010 and decides). Exit codes: 0 done, 3010 or
rem 1641 done but a reboot is needed, anything else failed.
rem A demo bundle carries demo-standin.cmd, which runs instead of the vendor
rem installer.
setlocal
cd /d "%~dp0" || exit /b 1
set "BUILD=0"
for /f "tokens=3" %%b in ('reg query "HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion" /v CurrentBuildNumber 2^>nul ^| find "REG_SZ"') do set "BUILD=%%b"
set "RELEASE="
if "%BUILD%"=="9200" set "RELEASE=win2012"
if "%BUILD%"=="9600" set "RELEASE=win2012R2"
if "%BUILD%"=="14393" set "RELEASE=win2016"
if not defined RELEASE (
	echo WinOF 5.65 has no build for Windows build %BUILD% 1>&2
	exit /b 1
)
set "PROGRAM=MLNX_VPI_WinOF-5_65_51000_All_%RELEASE%_x64.exe"
set ARGS=/S /v"/qn /norestart"
if exist demo-standin.cmd goto demo
"%PROGRAM%" %ARGS%
exit /b %ERRORLEVEL%
:demo
call demo-standin.cmd winof 5.65.51000
exit /b %ERRORLEVEL%
